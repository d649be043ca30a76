package ui

import (
	"os"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// TestMain lets this test binary stand in for etcd-harden: snapshot.Verify runs its bbolt
// checks in a child process, os.Executable() with snapshot.VerifySubcommand, which lands here.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == snapshot.VerifySubcommand {
		os.Exit(snapshot.RunVerifyChild(os.Args[2:], os.Stdout))
	}
	os.Exit(m.Run())
}
