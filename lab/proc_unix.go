//go:build unix

package lab

import (
	"os/exec"
	"syscall"
)

// signalGroup sends sig to the child's whole process group (the child leads it), so
// nothing etcd may have started is left behind.
func signalGroup(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd.Process == nil {
		return
	}
	if err := syscall.Kill(-cmd.Process.Pid, sig); err != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// alive reports whether a process with this pid exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

var (
	sigTerm = syscall.SIGTERM
	sigKill = syscall.SIGKILL
)
