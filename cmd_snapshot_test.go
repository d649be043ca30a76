package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// TestSnapshotScripts runs testdata/snapshot against a real etcd with mutual TLS; the
// scripts find it in $ENDPOINT, $CACERT, $CERT and $KEY, and an endpoint where nothing
// listens in $DEAD.
func TestSnapshotScripts(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	for i := range 10 {
		if _, err := cli.Put(t.Context(), fmt.Sprintf("/registry/configmaps/default/c%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	dead := fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "snapshot"),
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// snapreport FILE ok|failed: FILE is a snapshot.Report as JSON that passed
			// (verified, no error) or failed (an error).
			"snapreport": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: snapreport stdout|FILE ok|failed")
				}
				var r snapshot.Report
				if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &r); err != nil {
					ts.Fatalf("not a report: %v", err)
				}
				ok := r.Error == "" && r.Verification != nil && r.Verification.OK && r.Verification.TotalKeys >= 10
				if (args[1] == "ok") != ok {
					ts.Fatalf("report is not %s: error %q, verification %+v", args[1], r.Error, r.Verification)
				}
			},
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("ENDPOINT", srv.Endpoint)
			e.Setenv("CACERT", srv.TLS.CA)
			e.Setenv("CERT", srv.TLS.ClientCert)
			e.Setenv("KEY", srv.TLS.ClientKey)
			e.Setenv("DEAD", dead)
			e.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}

// TestSnapshotExitCodes runs the command in-process for the cases that never reach the
// verification's child process.
func TestSnapshotExitCodes(t *testing.T) {
	dir := t.TempDir()
	tls := testetcd.NewTLS(t, t.TempDir())
	dead := fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"snapshot", "test", "--root", dir}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", dir, "--keep", "0", "--schedule", "cronjob"}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", dir, "--timeout", "0s"}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", dir, "--name", "a/b"}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", dir, "--write"}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", "s3://b/p", "--encrypt-to", recipient, "--write"}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", dir, "--encrypt-to", "AGE-SECRET-KEY-1QQQ"}, exitUsage},
		{[]string{"snapshot", "test", "--root", dir, "--dest", filepath.Join(dir, "b"), "--endpoints", dead,
			"--cacert", tls.CA, "--cert", tls.ClientCert, "--key", tls.ClientKey}, exitFailed},
	} {
		var out, errOut bytes.Buffer
		if got := run(t.Context(), tc.args, strings.NewReader(""), &out, &errOut); got != tc.want {
			t.Errorf("%v: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.args, got, tc.want, out.String(), errOut.String())
		}
	}
}
