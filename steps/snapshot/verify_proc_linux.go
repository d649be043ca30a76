package snapshot

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the verify child in its own process group, so a Ctrl-C in the
// terminal reaches only this process (which then cancels and kills the child, rather
// than reading the child's death as a crash), and asks the kernel to kill the child
// when this process dies, so no child is left behind.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
