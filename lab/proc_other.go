//go:build !unix

package lab

import (
	"os"
	"os/exec"
)

type signal int

var (
	sigTerm signal = 15
	sigKill signal = 9
)

// signalGroup kills the child: outside Unix there are no process groups to signal.
func signalGroup(cmd *exec.Cmd, _ signal) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}

func alive(pid int) bool {
	_, err := os.FindProcess(pid)
	return pid > 0 && err == nil
}
