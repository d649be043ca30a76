//go:build unix

package selfexec

import (
	"os/exec"
	"syscall"
	"testing"
)

// TestSetProcAttrGroup starts a child with SetProcAttr and checks that it leads a
// process group of its own, so a Ctrl-C sent to this process's group misses it.
func TestSetProcAttrGroup(t *testing.T) {
	cmd := exec.Command("sleep", "5")
	SetProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep to start: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pgid, err := syscall.Getpgid(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if pgid != cmd.Process.Pid {
		t.Errorf("child's process group = %d, want its own (%d)", pgid, cmd.Process.Pid)
	}
	if own := syscall.Getpgrp(); pgid == own {
		t.Errorf("child shares this process's group %d", own)
	}
}
