//go:build unix && !linux

package snapshot

import (
	"os/exec"
	"syscall"
)

// setProcAttr puts the verify child in its own process group, so a Ctrl-C in the
// terminal reaches only this process, which cancels and kills the child. There is no
// parent-death signal outside Linux.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
}
