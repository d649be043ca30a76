package selfexec

import "syscall"

// setDeathSignal asks the kernel to kill the child when this process dies.
func setDeathSignal(attr *syscall.SysProcAttr) {
	attr.Pdeathsig = syscall.SIGKILL
}
