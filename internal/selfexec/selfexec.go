// Package selfexec starts this executable again as a child under one of its hidden
// subcommands (the lab's etcd, the snapshot verifier), with the process attributes such
// a child needs on each OS. It is the one place that knows both.
package selfexec

import (
	"os"
	"os/exec"
)

// Command returns a maker of the command `<this executable> <subcommand> -- <args>`.
// It fails when the executable cannot be found. The commands it makes have no process attributes
// yet: SetProcAttr sets them, on these and on the commands tests make instead.
func Command(subcommand string) (func(args []string) *exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return func(args []string) *exec.Cmd {
		return exec.Command(self, append([]string{subcommand, "--"}, args...)...)
	}, nil
}
