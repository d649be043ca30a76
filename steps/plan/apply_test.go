package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func statOwner(t *testing.T, p string) (fs.FileMode, int, int) {
	t.Helper()
	info, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	return info.Mode(), int(st.Uid), int(st.Gid)
}

func TestApplyAndRestore(t *testing.T) {
	root := seeded(t)
	apiserver := filepath.Join(root, apiserverPath)
	if os.Geteuid() == 0 {
		// A replaced file keeps its owner; give it one that is not ours.
		if err := os.Chown(apiserver, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	_, uid, gid := statOwner(t, apiserver)
	p := edgePlan(t, root)
	before := snapshot(t, root) // after edgePlan, which adds files
	var written []string
	b, err := p.Apply(ApplyOptions{AfterWrite: func(c *Change) error {
		written = append(written, c.Path)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	// New files first, then replaced files, each in plan order.
	wantOrder := []string{encPath, "etc/etcd-harden/README", "etc/etcd-harden/noeol", "etc/etcd-harden/empty",
		apiserverPath, etcdPath, "etc/noeol.conf", "etc/addeol.conf", "etc/run.sh"}
	if strings.Join(written, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("write order %q, want %q", written, wantOrder)
	}
	for _, c := range p.Changes {
		if got := readFile(t, filepath.Join(root, c.Path)); got != string(c.New) {
			t.Errorf("%s not written: %q", c.Path, got)
		}
	}
	if m, u, g := statOwner(t, apiserver); m.Perm() != 0o640 || u != uid || g != gid {
		t.Errorf("kube-apiserver.yaml: mode %v owner %d:%d, want 0640 %d:%d", m, u, g, uid, gid)
	}
	for path, want := range map[string]fs.FileMode{
		encPath:                             0o600,
		"etc/kubernetes/enc":                fs.ModeDir | 0o700,
		"etc/etcd-harden":                   fs.ModeDir | 0o755,
		"etc/etcd-harden/README":            0o644,
		"etc/run.sh":                        0o755,
		etcdPath:                            0o600,
		"var/lib/etcd-harden":               fs.ModeDir | 0o700,
		strings.TrimPrefix(b.Dir, root+"/"): fs.ModeDir | 0o700,
	} {
		if m, _, _ := statOwner(t, filepath.Join(root, path)); m != want {
			t.Errorf("%s: mode %v, want %v", path, m, want)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(root, "etc/kubernetes/manifests/.*")); len(left) > 0 {
		t.Errorf("temp files left: %q", left)
	}

	// The backup: outside the manifests folder, an index naming every change, copies 0600.
	if !strings.HasPrefix(b.Dir, DefaultBackupRoot(root)+string(filepath.Separator)) {
		t.Errorf("backup in %s", b.Dir)
	}
	var idx Backup
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(b.Dir, IndexName))), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Files) != len(p.Changes) || strings.Join(idx.CreatedDirs, " ") != "etc/kubernetes/enc etc/etcd-harden" {
		t.Errorf("index: %d files, created dirs %q", len(idx.Files), idx.CreatedDirs)
	}
	for _, f := range idx.Files {
		if f.Path == apiserverPath && (f.Mode != 0o640 || f.UID != uid || f.GID != gid || !f.Existed ||
			f.OldHash != hashOf([]byte(apiserverYAML)) || f.Copy == "") {
			t.Errorf("index entry %+v", f)
		}
		if f.Existed {
			if m, _, _ := statOwner(t, filepath.Join(b.Dir, f.Copy)); m != 0o600 {
				t.Errorf("copy of %s has mode %v", f.Path, m)
			}
		}
	}
	if !strings.Contains(readFile(t, filepath.Join(b.Dir, IndexName)), `"mode": "0640"`) {
		t.Error("index does not write modes in octal")
	}

	// Restore brings back every byte, mode and owner, and removes what the plan created.
	for range 2 { // and again: Restore is idempotent
		if err := Restore(root, b.Dir); err != nil {
			t.Fatal(err)
		}
		after := snapshot(t, root)
		for path := range after {
			if strings.HasPrefix(path, "var/lib/etcd-harden/") {
				delete(after, path)
			}
		}
		sameTree(t, before, after)
		if m, u, g := statOwner(t, apiserver); m.Perm() != 0o640 || u != uid || g != gid {
			t.Errorf("restored kube-apiserver.yaml: mode %v owner %d:%d", m, u, g)
		}
		for _, d := range []string{"etc/kubernetes/enc", "etc/etcd-harden"} {
			if _, err := os.Lstat(filepath.Join(root, d)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s still there after restore: %v", d, err)
			}
		}
	}
}

func TestApplyRefusesSymlink(t *testing.T) {
	for _, tc := range []struct {
		name string
		link func(t *testing.T, root string) string // returns the link's path
	}{
		{"target", func(t *testing.T, root string) string {
			// Same bytes, so only the link itself is wrong.
			real := filepath.Join(t.TempDir(), "etcd.yaml")
			os.WriteFile(real, []byte(etcdYAML), 0o600)
			link := filepath.Join(root, etcdPath)
			os.Remove(link)
			return link + "|" + real
		}},
		{"parent folder", func(t *testing.T, root string) string {
			real := filepath.Join(t.TempDir(), "etc-real")
			os.Rename(filepath.Join(root, "etc"), real)
			return filepath.Join(root, "etc") + "|" + real
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := seeded(t)
			p := mustPlan(t, root)
			pair := strings.Split(tc.link(t, root), "|")
			if err := os.Symlink(pair[1], pair[0]); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, pair[1])
			b, err := p.Apply(ApplyOptions{})
			if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), pair[0]+" is a symbolic link") ||
				!strings.HasPrefix(err.Error(), "nothing was written: ") {
				t.Fatalf("err = %v", err)
			}
			if b != nil {
				t.Error("a backup was returned")
			}
			sameTree(t, before, snapshot(t, pair[1]))
			if _, err := os.Stat(filepath.Join(root, encPath)); !errors.Is(err, fs.ErrNotExist) {
				t.Error("new file written for a refused plan")
			}
			if _, err := os.Stat(DefaultBackupRoot(root)); !errors.Is(err, fs.ErrNotExist) {
				t.Error("backup folder made for a refused plan")
			}
		})
	}
}

func TestApplyRefusesStaleFiles(t *testing.T) {
	for _, tc := range []struct {
		name, msg string
		spoil     func(root string) error
	}{
		{"replaced file edited", "kube-apiserver.yaml changed after the plan was made", func(root string) error {
			return os.WriteFile(filepath.Join(root, apiserverPath), []byte(apiserverYAML+"# by hand\n"), 0o640)
		}},
		{"replaced file removed", "etcd.yaml was removed after the plan was made", func(root string) error {
			return os.Remove(filepath.Join(root, etcdPath))
		}},
		{"new file appeared", "README was created after the plan was made", func(root string) error {
			os.MkdirAll(filepath.Join(root, "etc/etcd-harden"), 0o755)
			return os.WriteFile(filepath.Join(root, "etc/etcd-harden/README"), []byte("mine\n"), 0o644)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := seeded(t)
			p := mustPlan(t, root)
			if err := tc.spoil(root); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, root)
			b, err := p.Apply(ApplyOptions{})
			if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "plan again") {
				t.Fatalf("err = %v", err)
			}
			if b != nil {
				t.Error("backup returned")
			}
			sameTree(t, before, snapshot(t, root)) // nothing written, not even the new files or a backup
		})
	}
}

func TestApplyReportsEveryStaleFile(t *testing.T) {
	root := seeded(t)
	p := mustPlan(t, root)
	os.WriteFile(filepath.Join(root, etcdPath), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(root, apiserverPath), []byte("y"), 0o600)
	_, err := p.Apply(ApplyOptions{})
	if err == nil || !strings.Contains(err.Error(), "etcd.yaml changed") || !strings.Contains(err.Error(), "kube-apiserver.yaml changed") {
		t.Fatalf("err = %v", err)
	}
}

func TestAfterWriteErrorStopsAndRestore(t *testing.T) {
	root := seeded(t)
	before := snapshot(t, root)
	p := mustPlan(t, root)
	unhealthy := errors.New("etcd did not answer over TLS within 60s")
	n := 0
	b, err := p.Apply(ApplyOptions{BackupRoot: filepath.Join(t.TempDir(), "backups"), AfterWrite: func(c *Change) error {
		if n++; c.Path == apiserverPath {
			return unhealthy
		}
		return nil
	}})
	if !errors.Is(err, unhealthy) || !strings.Contains(err.Error(), "after writing "+apiserverPath) || b == nil {
		t.Fatalf("b = %v, err = %v", b, err)
	}
	if n != 3 || readFile(t, filepath.Join(root, etcdPath)) != etcdYAML {
		t.Fatalf("Apply went on after the error: %d writes", n)
	}
	if err := Restore(root, b.Dir); err != nil {
		t.Fatal(err)
	}
	sameTree(t, before, snapshot(t, root))
}

func TestRestoreLeavesChangedCreatedFile(t *testing.T) {
	root := seeded(t)
	p := mustPlan(t, root)
	b, err := p.Apply(ApplyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join(root, "etc/etcd-harden/README")
	os.WriteFile(readme, []byte("notes the admin added\n"), 0o644)
	err = Restore(root, b.Dir)
	if err == nil || !strings.Contains(err.Error(), readme+" was changed after the plan created it, so it was left in place") {
		t.Fatalf("err = %v", err)
	}
	if readFile(t, readme) != "notes the admin added\n" || readFile(t, filepath.Join(root, etcdPath)) != etcdYAML {
		t.Error("restore lost the admin's file or did not restore the rest")
	}
	if _, err := os.Stat(filepath.Join(root, encPath)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("unchanged created file not removed")
	}
}

// TestRestoreDamagedCopy: a copy that no longer matches its recorded sha256 stops the
// whole restore before anything is touched (issue 11, bad case 3), and the message
// names the file, where its copy is, and what to do.
func TestRestoreDamagedCopy(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		spoil      func(t *testing.T, b *Backup)
	}{
		{"truncated", "its copy %s is damaged (sha256 ", func(t *testing.T, b *Backup) {
			os.Truncate(filepath.Join(b.Dir, "files", etcdPath), 10)
		}},
		{"missing", "its copy %s is missing", func(t *testing.T, b *Backup) {
			os.Remove(filepath.Join(b.Dir, "files", etcdPath))
		}},
		{"no sha256 recorded", "the index records no sha256 for its copy %s, so the copy cannot be verified", func(t *testing.T, b *Backup) {
			for i := range b.Files {
				if b.Files[i].Path == etcdPath {
					b.Files[i].OldHash = ""
				}
			}
			if err := writeIndex(b); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := seeded(t)
			p := mustPlan(t, root)
			b, err := p.Apply(ApplyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			tc.spoil(t, b)
			applied := snapshot(t, root)
			err = Restore(root, b.Dir)
			copyPath := filepath.Join(b.Dir, "files", etcdPath)
			for _, want := range []string{"nothing was changed", "backup " + b.Dir, etcdPath + ": " + fmt.Sprintf(tc.want, copyPath),
				"put a good copy of each file named in its place", "roll back an older backup"} {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("err lacks %q: %v", want, err)
				}
			}
			if !errors.Is(err, ErrDamagedBackup) {
				t.Errorf("err does not wrap ErrDamagedBackup: %v", err)
			}
			sameTree(t, applied, snapshot(t, root)) // not one file put back or removed
		})
	}
}

// TestRestoreNamesIntactCopyElsewhere: when another backup holds the same content
// intact, the message says where, with the command that puts it back in place.
func TestRestoreNamesIntactCopyElsewhere(t *testing.T) {
	root := seeded(t)
	backups := filepath.Join(t.TempDir(), "backups")
	var dirs []string
	for i := range 2 {
		p := New(root)
		if err := p.Edit(apiserverPath, "r", func(b []byte) ([]byte, error) { return fmt.Appendf(b, "# %d\n", i), nil }); err != nil {
			t.Fatal(err)
		}
		if err := p.Create("etc/note", []byte("x"), 0o644, 0, false, "r"); err != nil {
			t.Fatal(err)
		}
		b, err := p.Apply(ApplyOptions{BackupRoot: backups, Now: func() time.Time { return time.Unix(int64(i), 0) }})
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, b.Dir)
		if i == 0 {
			if err := Restore(root, b.Dir); err != nil { // back to the seed: both backups hold its copy
				t.Fatal(err)
			}
		}
	}
	damaged := filepath.Join(dirs[1], "files", apiserverPath)
	os.WriteFile(damaged, []byte("x"), 0o600)
	err := Restore(root, dirs[1])
	intact := filepath.Join(dirs[0], "files", apiserverPath)
	if want := "an intact copy of the same content is " + intact + ": cp -p " + intact + " " + damaged; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err lacks %q: %v", want, err)
	}
	run(t, root, "cp", "-p", intact, damaged)
	if err := Restore(root, dirs[1]); err != nil {
		t.Fatalf("after the copy was put back: %v", err)
	}
	if readFile(t, filepath.Join(root, apiserverPath)) != apiserverYAML {
		t.Error("not restored")
	}
}

func TestListAndLatestBackup(t *testing.T) {
	root := seeded(t)
	backups := filepath.Join(t.TempDir(), "backups")
	if _, err := LatestBackup(backups); !errors.Is(err, ErrNoBackup) || !strings.Contains(err.Error(), backups) {
		t.Fatalf("no backups: %v", err)
	}
	t0 := time.Date(2026, 11, 28, 5, 15, 0, 0, time.UTC)
	var dirs []string
	for i := range 3 {
		p := New(root)
		p.Edit(etcdPath, "r", func(b []byte) ([]byte, error) { return fmt.Appendf(b, "# %d\n", i), nil })
		at := t0
		if i == 2 {
			at = t0.Add(time.Second)
		}
		b, err := p.Apply(ApplyOptions{BackupRoot: backups, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		dirs = append(dirs, filepath.Base(b.Dir))
	}
	if want := "20261128-051500.000 20261128-051500.000-2 20261128-051501.000"; strings.Join(dirs, " ") != want {
		t.Errorf("backup folders %q, want %s", dirs, want)
	}
	os.Mkdir(filepath.Join(backups, "20991231-000000.000"), 0o700) // incomplete: no index
	list, err := ListBackups(backups)
	if err != nil || len(list) != 3 || filepath.Base(list[0].Dir) != dirs[2] || filepath.Base(list[1].Dir) != dirs[1] {
		t.Fatalf("ListBackups = %v, %v", list, err)
	}
	latest, err := LatestBackup(backups)
	if err != nil || filepath.Base(latest) != dirs[2] {
		t.Fatalf("LatestBackup = %s, %v", latest, err)
	}
	// Rolling back the newest brings back what the second apply wrote.
	if err := Restore(root, latest); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(root, etcdPath)); got != etcdYAML+"# 0\n# 1\n" {
		t.Errorf("after rollback: %q", got)
	}
}

func TestEmptyPlanApplies(t *testing.T) {
	root := seeded(t)
	b, err := New(root).Apply(ApplyOptions{})
	if b != nil || err != nil {
		t.Fatalf("Apply of an empty plan = %v, %v", b, err)
	}
	if _, err := os.Stat(DefaultBackupRoot(root)); !errors.Is(err, fs.ErrNotExist) {
		t.Error("empty plan made a backup folder")
	}
}

func TestHookPoints(t *testing.T) {
	root := seeded(t)
	var points []string
	if _, err := mustPlan(t, root).Apply(ApplyOptions{Hook: func(p string) { points = append(points, p) }}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"backup:copy " + apiserverPath, "backup:copy " + etcdPath, "backup:index",
		"write:mkdir etc/kubernetes/enc", "write:temp " + encPath, "write:rename " + encPath, "write:synced " + encPath,
		"write:mkdir etc/etcd-harden", "write:temp etc/etcd-harden/README", "write:rename etc/etcd-harden/README", "write:synced etc/etcd-harden/README",
		"write:temp " + apiserverPath, "write:rename " + apiserverPath, "write:synced " + apiserverPath,
		"write:temp " + etcdPath, "write:rename " + etcdPath, "write:synced " + etcdPath,
	}
	if strings.Join(points, "\n") != strings.Join(want, "\n") {
		t.Errorf("hook points:\n%s\nwant:\n%s", strings.Join(points, "\n"), strings.Join(want, "\n"))
	}
}

// smallDisk mounts a 64 KiB tmpfs at a new folder and fills it until one page is left,
// so that a backup of two files runs out of space half way. It skips the test when
// this process may not mount (not root, or no mount in the sandbox).
func smallDisk(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	page := make([]byte, 4096)
	var last string
	for i := 0; ; i++ {
		last = filepath.Join(dir, fmt.Sprintf("fill-%d", i))
		if err := os.WriteFile(last, page, 0o600); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	os.Remove(last)
	if err := os.Remove(filepath.Join(dir, "fill-0")); err != nil { // one page free
		t.Fatal(err)
	}
	return dir
}

// TestApplyDiskFullDuringBackup: a full disk while the backup is written leaves the
// node untouched and no unfinished backup folder, and says nothing was written (issue
// 11, weak case "full disk while writing the backup").
func TestApplyDiskFullDuringBackup(t *testing.T) {
	root := seeded(t)
	before := snapshot(t, root)
	backups := filepath.Join(smallDisk(t), "backups")
	p := mustPlan(t, root)
	b, err := p.Apply(ApplyOptions{BackupRoot: backups})
	if b != nil || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Apply = %v, %v; want no backup and ENOSPC", b, err)
	}
	t.Log(err)
	for _, want := range []string{"nothing was written: the backup could not be made", "no space left on device",
		"the file system of " + backups + " is full; free some space there", "the unfinished backup folder " + backups + "/", " was removed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err lacks %q: %v", want, err)
		}
	}
	sameTree(t, before, snapshot(t, root))
	entries, err := os.ReadDir(backups)
	if err != nil || len(entries) != 0 {
		t.Errorf("backup folder holds %v (%v), want nothing", entries, err)
	}
}

// TestApplyTwice: the same plan applied again says it is applied already, and after an
// apply that stopped part way says so, naming the files; nothing is written either
// time (issue 11, weak case "the same apply --plan P run twice").
func TestApplyTwice(t *testing.T) {
	root := seeded(t)
	p := mustPlan(t, root)
	if _, err := p.Apply(ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	applied := snapshot(t, root)
	_, err := mustPlanFrom(t, p).Apply(ApplyOptions{})
	if !errors.Is(err, ErrAlreadyApplied) || errors.Is(err, ErrStale) ||
		!strings.Contains(err.Error(), "nothing was written: every file the plan changes under "+root+" is already as the plan leaves it") {
		t.Fatalf("second apply: %v", err)
	}
	sameTree(t, applied, snapshot(t, root)) // not even a new backup

	root = seeded(t)
	p = mustPlan(t, root)
	stop := errors.New("killed")
	if _, err := p.Apply(ApplyOptions{AfterWrite: func(c *Change) error {
		if c.Path == apiserverPath {
			return stop
		}
		return nil
	}}); !errors.Is(err, stop) {
		t.Fatal(err)
	}
	half := snapshot(t, root)
	_, err = mustPlanFrom(t, p).Apply(ApplyOptions{})
	want := "nothing was written: 3 of the 4 files the plan changes under " + root + " are already as the plan leaves it (" +
		encPath + ", " + apiserverPath + ", etc/etcd-harden/README), the others as the plan found them, so an earlier apply of this plan stopped part way"
	if !errors.Is(err, ErrPartlyApplied) || !strings.Contains(err.Error(), want) {
		t.Fatalf("apply after a stopped one: %v\nwant %q", err, want)
	}
	sameTree(t, half, snapshot(t, root))
}

// mustPlanFrom copies p's changes into a new plan, as `apply --plan` reads a saved one.
func mustPlanFrom(t *testing.T, p *Plan) *Plan {
	t.Helper()
	q := New(p.Root)
	for _, c := range p.Changes {
		cc := *c
		q.Changes = append(q.Changes, &cc)
	}
	return q
}
