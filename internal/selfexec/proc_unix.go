//go:build unix

package selfexec

import (
	"os/exec"
	"syscall"
)

// SetProcAttr puts the child in its own process group, so a Ctrl-C in the terminal
// reaches only this process (which then stops the child in order, rather than reading
// its death as a crash), and, where the kernel can, has it killed when this process
// dies, so no child is orphaned.
func SetProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr)
}
