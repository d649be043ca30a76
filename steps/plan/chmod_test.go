//go:build unix

package plan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return info.Sys().(*syscall.Stat_t).Ino
}

// TestChmodApplyAndRestore: a mode change of a file or a folder is shown in the patch,
// applied in place (the file is not rewritten), backed up and put back by Restore
// (issue 11, weak case "a server key at mode 0644").
func TestChmodApplyAndRestore(t *testing.T) {
	root := seeded(t)
	pki := "etc/kubernetes/pki"
	ca := pki + "/etcd/ca.crt"
	before := snapshot(t, root)
	p := New(root)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Chmod(apiserverPath, 0o600, "CIS 1.1.1"))
	must(p.Chmod(pki, 0o700, "keys' folder"))
	must(p.Chmod(ca, 0o644, "already so: nothing to do"))
	must(p.Edit(etcdPath, "edit", insertAfter("    - --data-dir=/var/lib/etcd", "    - --client-cert-auth=true")))
	must(p.Chmod(etcdPath, 0o400, "edit and mode"))
	if err := p.Chmod("etc/nope", 0o600, "r"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Chmod of a missing file: %v", err)
	}
	if len(p.Changes) != 3 || p.Find(ca) != nil {
		t.Fatalf("changes: %d, ca.crt planned: %v", len(p.Changes), p.Find(ca) != nil)
	}
	patch := string(p.Patch())
	for _, want := range []string{
		"# mode 0640 -> 0600 of the file " + apiserverPath + ": not carried by this patch; in the root run: chmod 0600 " + apiserverPath + "\n",
		"# mode 0755 -> 0700 of the folder " + pki + ": not carried by this patch; in the root run: chmod 0700 " + pki + "\n",
		"# mode 0600 -> 0400 of the file " + etcdPath,
		"diff --git a/" + etcdPath,
	} {
		if !strings.Contains(patch, want) {
			t.Errorf("patch lacks %q:\n%s", want, patch)
		}
	}
	if strings.Contains(patch, "diff --git a/"+apiserverPath) {
		t.Errorf("a mode-only change shows as a diff:\n%s", patch)
	}
	d := p.FileDiffs()[0]
	if !d.ModeOnly || d.OldMode != 0o640 || d.Mode != 0o600 || d.Dir {
		t.Errorf("FileDiff = %+v", d)
	}
	copyRoot := copyTree(t, root)
	run(t, copyRoot, "git", "apply", "--check", writePatch(t, patch)) // the comments do not disturb git

	ino := inode(t, filepath.Join(root, apiserverPath))
	b, err := p.Apply(ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{apiserverPath: 0o600, pki: fs.ModeDir | 0o700, etcdPath: 0o400, ca: 0o644} {
		if m, _, _ := statOwner(t, filepath.Join(root, path)); m != want {
			t.Errorf("%s: mode %v after apply, want %v", path, m, want)
		}
	}
	if inode(t, filepath.Join(root, apiserverPath)) != ino || readFile(t, filepath.Join(root, apiserverPath)) != apiserverYAML {
		t.Error("a mode-only change rewrote the file")
	}
	if err := p.Check(); !errors.Is(err, ErrAlreadyApplied) {
		t.Errorf("Check after apply: %v", err)
	}
	if b.Restored(root) {
		t.Error("Restored is true right after the apply")
	}
	must(Restore(root, b.Dir))
	after := snapshot(t, root)
	for path := range after {
		if strings.HasPrefix(path, "var/") {
			delete(after, path)
		}
	}
	sameTree(t, before, after)
	if m, _, _ := statOwner(t, filepath.Join(root, pki)); m != fs.ModeDir|0o755 {
		t.Errorf("folder mode after restore: %v", m)
	}
	if !b.Restored(root) {
		t.Error("Restored is false after the restore")
	}
}

func writePatch(t *testing.T, patch string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "p.patch")
	if err := os.WriteFile(f, []byte(patch), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}
