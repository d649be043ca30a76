//go:build unix && !linux

package selfexec

import (
	"os/exec"
	"syscall"
)

// SetProcAttr puts the child in its own process group, so a Ctrl-C in the terminal
// reaches only this process, which then stops the child. There is no parent-death
// signal outside Linux: the caller stops the child.
func SetProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
