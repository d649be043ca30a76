//go:build unix && !linux

package selfexec

import "syscall"

// setDeathSignal does nothing: there is no parent-death signal outside Linux, so the
// caller stops the child itself.
func setDeathSignal(*syscall.SysProcAttr) {}
