package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/clitest"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// cli runs the command line as main does and returns the exit code and both outputs.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

// unhardenedRoot lays out the two unhardened manifests under a new root.
func unhardenedRoot(t *testing.T) string {
	t.Helper()
	return steptest.Root(t, "unhardened")
}

// files is the content hash and mode of every file under root/etc.
func files(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(filepath.Join(root, "etc"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		out[p] = fmt.Sprintf("%x %v", sha256.Sum256(data), info.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameFiles(t *testing.T, want, got map[string]string) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%d files, want %d: %v", len(got), len(want), got)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: %q, want %q", p, got[p], w)
		}
	}
}

// TestApplyAndRollbackCLI applies a saved hardening plan to a running lab from the
// command line, then rolls it back: etcd goes to TLS and back to plain http.
func TestApplyAndRollbackCLI(t *testing.T) {
	l := clitest.StartLab(t)
	root := l.Root()
	orig := files(t, root)
	dir := clitest.SavedPlan(t, root)
	httpURL := l.Endpoint()

	code, out, errOut := cli(t, "apply", "--root", root, "--plan", dir, "--yes", "--timeout", "30s")
	if code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	backups := plan.DefaultBackupRoot(root)
	httpsURL := strings.Replace(httpURL, "http://", "https://", 1)
	for _, want := range []string{"create 0600 etc/kubernetes/pki/etcd/server.key (secret, content not shown)",
		"edit   0600 etc/kubernetes/manifests/etcd.yaml (+", "answers on " + httpsURL + " with " + filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.crt"),
		"Backup of the replaced files: " + backups, "To undo:  etcd-harden rollback --root " + root + " " + backups} {
		if !strings.Contains(out, want) {
			t.Errorf("apply's output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"write: etc/kubernetes/manifests/etcd.yaml: written", "wait-etcd: " + httpsURL, "done: "} {
		if !strings.Contains(errOut, want) {
			t.Errorf("progress on stderr lacks %q:\n%s", want, errOut)
		}
	}
	_, out, _ = cli(t, "audit", "--root", root, "-o", "json")
	var checks []struct{ ID, Status string }
	if err := json.Unmarshal([]byte(out), &checks); err != nil {
		t.Fatalf("audit -o json: %v\n%s", err, out)
	}
	for _, c := range checks {
		if !strings.HasPrefix(c.ID, "1.1.") && c.Status != "pass" {
			t.Errorf("audit after apply: %s is %s", c.ID, c.Status)
		}
	}

	code, out, _ = cli(t, "rollback", "--root", root, "--list")
	if code != exitOK || !strings.Contains(out, backups) || !strings.Contains(out, "put back etc/kubernetes/manifests/etcd.yaml") ||
		!strings.Contains(out, "remove   etc/kubernetes/pki/etcd/server.key") {
		t.Fatalf("rollback --list: exit %d\n%s", code, out)
	}

	code, out, errOut = cli(t, "rollback", "--root", root)
	if code != exitOK || !strings.Contains(out, "put back etc/kubernetes/manifests/etcd.yaml") ||
		!strings.Contains(out, "removed  etc/kubernetes/pki/etcd/server.key") {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	sameFiles(t, orig, files(t, root))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rollout.Wait(ctx, rollout.Target{Endpoint: httpURL}, rollout.WaitOptions{Interval: 100 * time.Millisecond}); err != nil {
		t.Errorf("etcd after the rollback: %v", err)
	}
}

func TestApplyCLIRefuses(t *testing.T) {
	root := unhardenedRoot(t)
	dir := clitest.SavedPlan(t, root)
	api := filepath.Join(root, "etc", "kubernetes", "manifests", "kube-apiserver.yaml")
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		args  []string
		code  int
		want  []string
	}{
		{"no --plan", nil, []string{"apply", "--root", root}, exitUsage, []string{"--plan DIR is required"}},
		{"missing folder", nil, []string{"apply", "--root", root, "--plan", filepath.Join(root, "nope"), "--yes"}, exitUsage,
			[]string{"--plan " + filepath.Join(root, "nope") + ": no such folder", "etcd-harden plan --out"}},
		{"no terminal, no --yes", nil, []string{"apply", "--root", root, "--plan", dir}, exitUsage, []string{"pass --yes"}},
		{"bad timeout", nil, []string{"apply", "--root", root, "--plan", dir, "--timeout", "0s"}, exitUsage, []string{"--timeout 0s"}},
		{"stale plan", func(t *testing.T) {
			f, err := os.OpenFile(api, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, "# edited by hand")
			f.Close()
		}, []string{"apply", "--root", root, "--plan", dir, "--yes"}, exitFailed,
			[]string{api + " changed after the plan was made", "plan again", "Nothing was written"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			before := files(t, root)
			code, out, errOut := cli(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			sameFiles(t, before, files(t, root))
			if list, _ := plan.ListBackups(plan.DefaultBackupRoot(root)); len(list) != 0 {
				t.Errorf("a refused apply made %d backups", len(list))
			}
		})
	}
}

func TestRollbackCLIRefuses(t *testing.T) {
	root := unhardenedRoot(t)
	backups := plan.DefaultBackupRoot(root)
	other := unhardenedRoot(t)
	p := plan.New(other)
	if err := p.Create("etc/note.txt", []byte("x\n"), 0o644, 0, false, "test"); err != nil {
		t.Fatal(err)
	}
	b, err := p.Apply(plan.ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	otherBackup := b.Dir
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no backups", []string{"rollback", "--root", root}, exitFailed, "no backups found under " + backups},
		{"no such backup", []string{"rollback", "--root", root, "20990101-000000.000"}, exitUsage, "backup 20990101-000000.000: no such folder"},
		{"another root's backup", []string{"rollback", "--root", root, otherBackup}, exitUsage, "was made for files under " + other},
		{"not a backup", []string{"rollback", "--root", root, t.TempDir()}, exitFailed, "is not a complete backup"},
		{"two backups", []string{"rollback", "--root", root, "a", "b"}, exitUsage, "accepts at most 1 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := files(t, root)
			code, out, errOut := cli(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d (want %d), stderr lacks %q?\n%s%s", code, tc.code, tc.want, out, errOut)
			}
			sameFiles(t, before, files(t, root))
		})
	}
	code, out, _ := cli(t, "rollback", "--root", root, "--list")
	if code != exitOK || !strings.Contains(out, "No backups under "+backups) {
		t.Errorf("rollback --list with no backups: exit %d\n%s", code, out)
	}
}
