package lab

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in its own process group (a Ctrl-C in the lab's terminal
// reaches the lab, which then stops etcd in order) and asks the kernel to kill it when
// the lab dies, so no etcd is orphaned.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
