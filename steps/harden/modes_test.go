package harden

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// TestPlanModes: on a hardened node whose keys, manifests and data folder are too open,
// the plan fixes the modes (and only them): CIS 1.1.7 and 1.1.11 pass after the plan,
// REVIEW.md shows the mode changes, no key reaches the plan folder, apply sets the modes
// in place and a rollback puts the old ones back (issue 11, weak case "a server key at
// mode 0644").
func TestPlanModes(t *testing.T) {
	root := hardenedNode(t)
	open := map[string]fs.FileMode{
		"etc/kubernetes/pki/etcd/server.key":           0o644,
		"etc/kubernetes/pki/etcd/ca.key":               0o640,
		"etc/kubernetes/manifests/etcd.yaml":           0o644,
		"etc/kubernetes/manifests/kube-apiserver.yaml": 0o644,
		"var/lib/etcd": 0o755,
	}
	want := map[string]fs.FileMode{}
	for p, m := range open {
		must(t, os.Chmod(filepath.Join(root, p), m))
		want[p] = 0o600
	}
	want["var/lib/etcd"] = 0o700
	before := snapshot(t, root)

	r := build(t, root, Options{})
	if len(r.Plan.Changes) != len(open) {
		t.Errorf("%d changes, want the %d mode fixes:\n%s", len(r.Plan.Changes), len(open), r.Plan.Patch())
	}
	for _, c := range r.Plan.Changes {
		if !c.ModeOnly() || c.Mode != want[c.Path] || c.OldMode != open[c.Path] {
			t.Errorf("%s: mode-only %v, %04o -> %04o; want %04o -> %04o", c.Path, c.ModeOnly(), c.OldMode, c.Mode, open[c.Path], want[c.Path])
		}
	}
	b4, after := statuses(r.Before), statuses(r.After)
	for _, id := range []string{"1.1.7", "1.1.11"} {
		if b4[id] != audit.Fail || after[id] != audit.Pass {
			t.Errorf("CIS %s: %s before, %s after the plan; want fail, pass", id, b4[id], after[id])
		}
	}
	for _, c := range r.Certs.After {
		if c.Name == "key-mode" && c.Status != "pass" {
			t.Errorf("after the plan: %s", c.Message)
		}
	}
	for _, s := range r.Steps {
		if strings.Contains(s, "Restart in this order") || strings.Contains(s, "still fails") {
			t.Errorf("step left: %s", s)
		}
	}

	out := filepath.Join(t.TempDir(), "plan")
	must(t, WriteOut(out, r, WriteOptions{}))
	review, _ := os.ReadFile(filepath.Join(out, ReviewFile))
	for _, w := range []string{"| `/etc/kubernetes/pki/etcd/server.key` | mode 0644 → 0600 | 0600 | — |",
		"| `/var/lib/etcd` | mode 0755 → 0700 | 0700 | — | CIS 1.1.11: chmod 700 ",
		"| `/etc/kubernetes/manifests/kube-apiserver.yaml` | mode 0644 → 0600 | 0600 | — | CIS 1.1.1: chmod 600 ",
		"| 1.1.7 | Ensure that the etcd pod specification file permissions are set to 600 or more restrictive (Automated) | fail | pass |"} {
		if !strings.Contains(string(review), w) {
			t.Errorf("REVIEW.md lacks %q:\n%s", w, review)
		}
	}
	for name, data := range snapshot(t, out) {
		if strings.Contains(data, "PRIVATE KEY") {
			t.Errorf("%s holds a private key", name)
		}
	}

	p, err := ReadOut(out, root)
	must(t, err)
	b, err := p.Apply(plan.ApplyOptions{BackupRoot: t.TempDir()})
	must(t, err)
	for path, m := range want {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil || fi.Mode().Perm() != m {
			t.Errorf("%s after apply: %v %v, want %04o", path, fi.Mode(), err, m)
		}
	}
	if _, err := ReadOut(out, root); !errors.Is(err, plan.ErrAlreadyApplied) {
		t.Errorf("ReadOut after apply: %v", err)
	}
	must(t, plan.Restore(root, b.Dir))
	after2 := snapshot(t, root)
	for path, m := range open {
		if fi, _ := os.Stat(filepath.Join(root, path)); fi.Mode().Perm() != m {
			t.Errorf("%s after rollback: %v, want %04o", path, fi.Mode(), m)
		}
	}
	for k, v := range before {
		if after2[k] != v {
			t.Errorf("%s differs after the rollback", k)
		}
	}
}
