package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
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
		Setup: func(e *testscript.Env) error {
			e.Setenv("MANIFESTS", manifests)
			e.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}
