//go:build !unix

package selfexec

import "os/exec"

// SetProcAttr does nothing outside Unix: there are no process groups to set.
func SetProcAttr(*exec.Cmd) {}
