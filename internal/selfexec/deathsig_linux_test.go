package selfexec

import (
	"os/exec"
	"syscall"
	"testing"
)

// TestSetProcAttrDeathSignal: on Linux the kernel kills the child when this process dies.
func TestSetProcAttrDeathSignal(t *testing.T) {
	cmd := exec.Command("true")
	SetProcAttr(cmd)
	if got := cmd.SysProcAttr.Pdeathsig; got != syscall.SIGKILL {
		t.Errorf("Pdeathsig = %v, want SIGKILL", got)
	}
}
