package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/clitest"
	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// TestEtcdCommandsDiagnoseTheConnection: with a wrong setting, `encryption status` and
// `snapshot test` say what is wrong and which flag to change, under the default --timeout
// (minutes): the connection check has its own few seconds. The context is generous; a
// command that waited for it would say "deadline exceeded" or be cancelled instead.
func TestEtcdCommandsDiagnoseTheConnection(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	other := testetcd.NewTLS(t, t.TempDir())
	dead := fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))
	conn := func(ep, ca, cert, key string) []string {
		args := []string{"--root", t.TempDir(), "--endpoints", ep}
		for _, f := range [][2]string{{"--cacert", ca}, {"--cert", cert}, {"--key", key}} {
			if f[1] != "" {
				args = append(args, f[0], f[1])
			}
		}
		return args
	}
	for _, tc := range []struct {
		name string
		conn []string
		want []string
	}{
		{"etcd not running", conn(dead, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey),
			[]string{dead, "connection refused", "check that etcd runs", "--endpoints"}},
		{"wrong --cacert", conn(srv.Endpoint, other.CA, srv.TLS.ClientCert, srv.TLS.ClientKey),
			[]string{"not signed by the CA", "--cacert (ETCDCTL_CACERT), now " + other.CA}},
		{"wrong client pair", conn(srv.Endpoint, srv.TLS.CA, other.ClientCert, other.ClientKey),
			[]string{"does not trust the client certificate", "--cert and --key"}},
		{"no client pair", conn(srv.Endpoint, srv.TLS.CA, "", ""),
			[]string{"requires a client certificate", "--cert and --key"}},
		{"http against TLS", conn(strings.Replace(srv.Endpoint, "https://", "http://", 1), "", "", ""),
			[]string{"speaks TLS, not plain http", "use https://"}},
	} {
		for _, cmd := range [][]string{
			{"encryption", "status"},
			{"snapshot", "test", "--dest", filepath.Join(t.TempDir(), "snaps")},
		} {
			t.Run(tc.name+"/"+cmd[0], func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				var out, errOut bytes.Buffer
				code := run(ctx, append(cmd, tc.conn...), strings.NewReader(""), &out, &errOut)
				if code != exitFailed {
					t.Fatalf("exit %d, want %d\n%s%s", code, exitFailed, out.String(), errOut.String())
				}
				msg := out.String() + errOut.String() // snapshot test prints its report, error included, on stdout
				for _, w := range append(tc.want, "etcd at ") {
					if !strings.Contains(msg, w) {
						t.Errorf("output lacks %q:\n%s", w, msg)
					}
				}
				if strings.Contains(msg, "deadline exceeded") {
					t.Errorf("the check ran into a deadline:\n%s", msg)
				}
				if cmd[0] == "snapshot" {
					if _, err := os.Stat(cmd[3]); !os.IsNotExist(err) {
						t.Errorf("--dest %s was made before etcd was reached: %v", cmd[3], err)
					}
				}
			})
		}
	}
}

// TestApplyRefusesConnectionFlags: apply checks etcd where the plan says; a connection
// given on the command line is refused with a usage error, not silently ignored.
func TestApplyRefusesConnectionFlags(t *testing.T) {
	root := unhardenedRoot(t)
	dir := clitest.SavedPlan(t, root)
	before := files(t, root)
	code, out, errOut := cli(t, "apply", "--root", root, "--plan", dir, "--yes", "--endpoints", "http://127.0.0.1:1")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
	}
	for _, w := range []string{"apply does not take --endpoints", "where the plan's etcd.yaml and kube-apiserver.yaml say", "run apply without it", "nothing was written"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errOut)
		}
	}
	code, _, errOut = cli(t, "apply", "--root", root, "--plan", dir, "--yes", "--cert", "/x.crt", "--key", "/x.key")
	if code != exitUsage || !strings.Contains(errOut, "apply does not take --cert, --key") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sameFiles(t, before, files(t, root))
	if list, _ := plan.ListBackups(plan.DefaultBackupRoot(root)); len(list) != 0 {
		t.Errorf("a refused apply made %d backups", len(list))
	}
}
