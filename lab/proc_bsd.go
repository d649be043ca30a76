//go:build unix && !linux

package lab

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the child in its own process group. There is no parent-death signal
// outside Linux: Close stops the child.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
