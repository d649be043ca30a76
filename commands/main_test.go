package commands

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets this test binary stand in for etcd-harden: the lab runs it as its etcd
// (clitest.StartLab).
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"etcd-harden": func() { os.Exit(executeMain()) },
	})
}

// executeMain runs this process's command line on NewRoot; exit codes are main's, so a
// failure here is only 1.
func executeMain() int {
	root := NewRoot(os.Stdin)
	root.SetArgs(os.Args[1:])
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "etcd-harden:", err)
		return 1
	}
	return 0
}

// execute runs the command line on NewRoot with no input and returns both outputs and
// the error main would turn into an exit code.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := NewRoot(strings.NewReader(""))
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}
