package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

func TestMain(m *testing.M) {
	// snapshot.Verify re-runs this binary for its bbolt checks, and a lab for its etcd.
	if len(os.Args) > 1 && (os.Args[1] == snapshot.VerifySubcommand || os.Args[1] == lab.EtcdSubcommand) {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	testscript.Main(m, map[string]func(){
		"etcd-harden": func() {
			os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the command-line scripts in testdata/script: each runs the real
// binary's entry point and compares what it prints and its exit code.
func TestScripts(t *testing.T) {
	manifests, err := filepath.Abs(filepath.Join("testdata", "manifests"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// jsonvalid stdout|FILE: the text parses as JSON.
			"jsonvalid": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 {
					ts.Fatalf("usage: jsonvalid stdout|FILE")
				}
				text := ts.ReadFile(args[0])
				if valid := json.Valid([]byte(text)); valid == neg {
					ts.Fatalf("json.Valid = %v for:\n%s", valid, text)
				}
			},
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("MANIFESTS", manifests)
			e.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}

func TestExitCodes(t *testing.T) {
	root := unhardenedRoot(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--help"}, exitOK},
		{[]string{"--version"}, exitOK},
		{[]string{"audit", "--root", root}, exitFailed},
		{[]string{"audit", "--root", filepath.Join(root, "nope")}, exitUsage},
		{[]string{"audit", "--no-such-flag"}, exitUsage},
		{[]string{"no-such-command"}, exitUsage},
		{[]string{"audit", "-o", "yaml", "--root", root}, exitUsage},
		{[]string{"--root", root, "--plain", "--answers", filepath.Join(root, "no-such-answers.yaml")}, exitUsage},
	} {
		var out, errOut bytes.Buffer
		if got := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut); got != tc.want {
			t.Errorf("etcd-harden %s: exit %d, want %d\n%s%s", strings.Join(tc.args, " "), got, tc.want, out.String(), errOut.String())
		}
	}
}

func TestExitCodeAborted(t *testing.T) {
	if got := exitCode(fmt.Errorf("wizard: %w", ui.ErrAborted)); got != exitAborted {
		t.Fatalf("exitCode(aborted) = %d, want %d", got, exitAborted)
	}
}

// TestWizardEndOfInputAborts: `etcd-harden --plain </dev/null` used to take every
// default, "Apply it now" included. End of input is an abort: exit 130, nothing written.
func TestWizardEndOfInputAborts(t *testing.T) {
	root := unhardenedRoot(t)
	t.Chdir(t.TempDir()) // where "save" would write
	before := steptest.Tree(t, root)
	var out, errOut bytes.Buffer
	if got := run(context.Background(), []string{"--plain", "--root", root}, strings.NewReader(""), &out, &errOut); got != exitAborted {
		t.Errorf("exit %d, want %d\n%s%s", got, exitAborted, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "Error: end of input: aborted, nothing was written\n") {
		t.Errorf("stdout lacks the abort:\n%s", out.String())
	}
	steptest.SameTree(t, root, before)
	if entries, _ := os.ReadDir("."); len(entries) > 0 {
		t.Errorf("%s was written in the working folder", entries[0].Name())
	}
}

// TestWizardAnswersCheckedFirst: a bad answer used to be found only at its step, after
// the plan was applied. The answers file is checked whole before anything runs.
func TestWizardAnswersCheckedFirst(t *testing.T) {
	root := unhardenedRoot(t)
	answers := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(answers, []byte("review.action: apply\nbackup.keep: seven\ncerts.advertiseIP: 10.0.0.300\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	before := steptest.Tree(t, root)
	var out, errOut bytes.Buffer
	if got := run(context.Background(), []string{"--plain", "--yes", "--root", root, "--answers", answers}, strings.NewReader(""), &out, &errOut); got != exitUsage {
		t.Errorf("exit %d, want %d\n%s%s", got, exitUsage, out.String(), errOut.String())
	}
	want := "etcd-harden: answers file " + answers + `: certs.advertiseIP "10.0.0.300": want an IP address, e.g. 10.0.0.5; backup.keep "seven": give a whole number from 1 to 1000` + "\n"
	if !strings.HasPrefix(errOut.String(), want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut.String(), want)
	}
	if out.Len() > 0 {
		t.Errorf("the wizard started:\n%s", out.String())
	}
	steptest.SameTree(t, root, before)
}
