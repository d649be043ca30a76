package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
)

// IndexName is the file in a backup folder that lists the changes; a folder without
// it is an incomplete backup (the process died while writing it, before any target
// was touched) and is skipped by ListBackups.
const IndexName = "index.json"

// backupVersion is the index format; Restore refuses others.
const backupVersion = 1

// Errors of the backup functions; match with errors.Is.
var (
	// ErrNoBackup is returned by LatestBackup when there is nothing to roll back to.
	ErrNoBackup = errors.New("no backup found")
	// ErrDamagedBackup is wrapped by Restore's error when a copy in the backup does not
	// match the sha256 its index recorded at backup time (or the index recorded none):
	// Restore then changes nothing.
	ErrDamagedBackup = errors.New("the backup cannot be trusted")
)

// Backup describes one apply's backup folder: copies of the files it replaced under
// "files/" and the index, written before the first target is touched.
type Backup struct {
	// Dir is the backup folder (not stored in the index).
	Dir string `json:"-"`
	// Version is the index format.
	Version int `json:"version"`
	// Root is the root the plan was applied to.
	Root string `json:"root"`
	// Created is when Apply started.
	Created time.Time `json:"created"`
	// Files lists every change in plan order.
	Files []BackupFile `json:"files"`
	// CreatedDirs are the folders (relative to the root, parents first) that did not
	// exist before; Restore removes them when they are empty again.
	CreatedDirs []string `json:"createdDirs,omitempty"`
}

// BackupFile is one change as the backup index records it.
type BackupFile struct {
	// Path is relative to the root.
	Path string `json:"path"`
	// Existed is false for a file the plan created: Restore removes it.
	Existed bool `json:"existed"`
	// OldHash is the hex sha256 of the replaced content ("" for a created file).
	OldHash string `json:"oldHash,omitempty"`
	// NewHash is the hex sha256 of the content Apply writes.
	NewHash string `json:"newHash"`
	// Mode is the replaced file's permission (for a created file, the new one).
	Mode OctalMode `json:"mode"`
	// UID and GID are the replaced file's owner (-1 for a created file).
	UID int `json:"uid"`
	GID int `json:"gid"`
	// Secret marks files holding keys; their copy has mode 0600 like every copy.
	Secret bool `json:"secret,omitempty"`
	// Dir marks a folder whose mode the plan changed: Mode is its old mode, there is
	// no copy, and Restore sets the mode back.
	Dir bool `json:"dir,omitempty"`
	// Copy is the copy of the replaced content, relative to the backup folder.
	Copy string `json:"copy,omitempty"`
	// Reasons say why the file changed.
	Reasons []string `json:"reasons,omitempty"`
}

// OctalMode is a permission that JSON shows as an octal string such as "0644".
type OctalMode fs.FileMode

// MarshalJSON writes the mode as "0644".
func (m OctalMode) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("%04o", uint32(m)))
}

// UnmarshalJSON reads a mode written by MarshalJSON.
func (m *OctalMode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return fmt.Errorf("mode %q is not octal: %w", s, err)
	}
	*m = OctalMode(v)
	return nil
}

// writeBackup makes a new timestamped folder under backupRoot with copies of the files
// the targets replace and, last, the index; everything is synced before it returns.
// When writing fails (a full disk, say), the unfinished folder is removed, so that no
// partial backup is left to be mistaken for one.
func (p *Plan) writeBackup(backupRoot string, now time.Time, ts []target, hook func(string)) (*Backup, error) {
	dir, err := newBackupDir(backupRoot, now)
	if err != nil {
		return nil, backupFailed(err, backupRoot)
	}
	b, err := p.fillBackup(dir, now, ts, hook)
	if err != nil {
		err = backupFailed(err, backupRoot)
		if rerr := os.RemoveAll(dir); rerr != nil {
			return nil, fmt.Errorf("%w; the unfinished backup folder %s could not be removed (%v): delete it by hand", err, dir, rerr)
		}
		_ = atomicfile.SyncDir(backupRoot)
		return nil, fmt.Errorf("%w; the unfinished backup folder %s was removed", err, dir)
	}
	return b, nil
}

// backupFailed says what to do when the backup could not be written.
func backupFailed(err error, backupRoot string) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("%w: the file system of %s is full; free some space there (or choose another backup folder) and apply again", err, backupRoot)
	}
	return err
}

// fillBackup writes the copies and the index into the new backup folder dir.
func (p *Plan) fillBackup(dir string, now time.Time, ts []target, hook func(string)) (*Backup, error) {
	b := &Backup{Dir: dir, Version: backupVersion, Root: p.Root, Created: now.UTC()}
	b.CreatedDirs = p.missingDirs(ts)
	synced := map[string]bool{}
	for _, t := range ts {
		c := t.c
		f := BackupFile{Path: c.Path, Existed: c.Existed, OldHash: c.OldHash, NewHash: c.NewHash(),
			Mode: OctalMode(c.Mode.Perm()), UID: -1, GID: -1, Secret: c.Secret, Dir: c.Dir, Reasons: c.Reasons}
		switch {
		case c.Dir:
			f.NewHash = ""
			f.Mode, f.UID, f.GID = OctalMode(t.info.Mode().Perm()), t.own.uid, t.own.gid
		case c.Existed:
			f.Mode, f.UID, f.GID = OctalMode(t.info.Mode().Perm()), t.own.uid, t.own.gid
			f.Copy = "files/" + c.Path
			if err := writeCopy(dir, f.Copy, t.old, synced); err != nil {
				return nil, err
			}
			hook("backup:copy " + c.Path)
		}
		b.Files = append(b.Files, f)
	}
	for d := range synced {
		if err := atomicfile.SyncDir(d); err != nil {
			return nil, err
		}
	}
	if err := writeIndex(b); err != nil {
		return nil, err
	}
	hook("backup:index")
	return b, nil
}

// newBackupDir creates backupRoot/<UTC time stamp> with mode 0700, adding a suffix
// when two applies share a millisecond.
func newBackupDir(backupRoot string, now time.Time) (string, error) {
	if err := os.MkdirAll(backupRoot, 0o700); err != nil {
		return "", fmt.Errorf("create backup folder %s: %w; choose another one with the backup folder option", backupRoot, err)
	}
	name := now.UTC().Format("20060102-150405.000")
	for i := 1; ; i++ {
		dir := filepath.Join(backupRoot, name)
		if i > 1 {
			dir = fmt.Sprintf("%s-%d", dir, i)
		}
		err := os.Mkdir(dir, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create backup folder %s: %w", dir, err)
		}
		if err := atomicfile.SyncDir(backupRoot); err != nil {
			return "", err
		}
		return dir, nil
	}
}

// writeCopy writes data to rel under dir with mode 0600 and notes the folders to sync.
func writeCopy(dir, rel string, data []byte, synced map[string]bool) error {
	file := filepath.Join(dir, filepath.FromSlash(rel))
	parent := filepath.Dir(file)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("back up %s: %w", rel, err)
	}
	for d := parent; d != dir && strings.HasPrefix(d, dir); d = filepath.Dir(d) {
		synced[d] = true
	}
	synced[dir] = true
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("back up %s: %w", rel, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("back up %s to %s: %w", rel, file, err)
	}
	return nil
}

// writeIndex writes the index atomically: a backup is complete once it exists.
func writeIndex(b *Backup) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(b.Dir, IndexName), append(data, '\n'), 0o600,
		owner{uid: -1, gid: -1}, IndexName, func(string) {})
}

// missingDirs lists, parents first, the folders Apply will create for new files.
func (p *Plan) missingDirs(ts []target) []string {
	var out []string
	for _, t := range ts {
		if t.c.Existed {
			continue
		}
		parts := strings.Split(path.Dir(t.c.Path), "/")
		for i := range parts {
			rel := strings.Join(parts[:i+1], "/")
			if rel == "." || slices.Contains(out, rel) {
				continue
			}
			if _, err := os.Lstat(diskPath(p.Root, rel)); errors.Is(err, fs.ErrNotExist) {
				out = append(out, rel)
			}
		}
	}
	return out
}

// ReadBackup reads the index of the backup folder dir.
func ReadBackup(dir string) (*Backup, error) {
	data, err := os.ReadFile(filepath.Join(dir, IndexName))
	if err != nil {
		return nil, fmt.Errorf("read backup %s: %w (a folder without %s is an incomplete backup)", dir, err, IndexName)
	}
	var b Backup
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("read backup index %s: %w", filepath.Join(dir, IndexName), err)
	}
	if b.Version != backupVersion {
		return nil, fmt.Errorf("backup %s has index version %d, this etcd-harden reads version %d", dir, b.Version, backupVersion)
	}
	b.Dir = dir
	return &b, nil
}

// ListBackups returns the complete backups under backupRoot, newest first. Folders
// without a readable index are skipped; a missing backupRoot gives an empty list.
func ListBackups(backupRoot string) ([]*Backup, error) {
	entries, err := os.ReadDir(backupRoot)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list backups in %s: %w", backupRoot, err)
	}
	var out []*Backup
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if b, err := ReadBackup(filepath.Join(backupRoot, e.Name())); err == nil {
			out = append(out, b)
		}
	}
	slices.SortStableFunc(out, func(x, y *Backup) int {
		if c := y.Created.Compare(x.Created); c != 0 {
			return c
		}
		return strings.Compare(y.Dir, x.Dir)
	})
	return out, nil
}

// LatestBackup returns the folder of the newest complete backup under backupRoot, or
// an error wrapping ErrNoBackup.
func LatestBackup(backupRoot string) (string, error) {
	list, err := ListBackups(backupRoot)
	if err != nil {
		return "", err
	}
	if len(list) == 0 {
		return "", fmt.Errorf("%w in %s: nothing to roll back (give the backup folder if it is elsewhere)", ErrNoBackup, backupRoot)
	}
	return list[0].Dir, nil
}

// Restore puts back the files of the backup in backupDir under root: every replaced
// file byte for byte with its mode and owner (atomically, skipped when already so), and
// every file the plan created removed, but only while it still has the content Apply
// wrote: a created file changed since is left in place and reported. Folders Apply
// created are removed when empty, leftover temp files are cleaned up, and every file is
// checked against the index at the end. Restore is safe to run again.
//
// Before it touches anything, Restore checks every copy against the sha256 the index
// recorded at backup time (see CheckCopies): with one copy damaged it restores nothing,
// so that the node is never left half old and half new.
func Restore(root, backupDir string) error {
	b, err := ReadBackup(backupDir)
	if err != nil {
		return err
	}
	if err := b.CheckCopies(); err != nil {
		return err
	}
	var errs []error
	for i := len(b.Files) - 1; i >= 0; i-- {
		if err := restoreOne(root, b, b.Files[i]); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(b.CreatedDirs) - 1; i >= 0; i-- {
		if rel, err := CleanPath(b.CreatedDirs[i]); err == nil {
			os.Remove(diskPath(root, rel)) // fails, as wanted, when not empty
		}
	}
	if len(errs) == 0 {
		errs = verify(root, b)
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore from %s: %w", backupDir, errors.Join(errs...))
	}
	return nil
}

// CheckCopies reads every copy in the backup and compares it with the sha256 its index
// recorded when the backup was made. It returns nil when all match, else an error
// wrapping ErrDamagedBackup that names each damaged, missing or unverifiable copy, says
// that nothing was changed, and how to go on: put a good copy in its place (an intact
// copy of the same content in another backup is named when there is one), or roll
// back another backup. A copy whose index entry has no sha256 (a hand-made or older
// index) is refused as unverifiable rather than trusted.
func (b *Backup) CheckCopies() error {
	var bad []string
	for _, f := range b.Files {
		if !f.Existed || f.Dir {
			continue
		}
		rel, err := CleanPath(f.Copy)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: the index names no usable copy (%q)", f.Path, f.Copy))
			continue
		}
		copyPath := filepath.Join(b.Dir, filepath.FromSlash(rel))
		if f.OldHash == "" {
			bad = append(bad, fmt.Sprintf("%s: the index records no sha256 for its copy %s, so the copy cannot be verified; check it yourself, then write its sha256 (sha256sum) as \"oldHash\" in %s",
				f.Path, copyPath, filepath.Join(b.Dir, IndexName)))
			continue
		}
		h, err := fileHash(copyPath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bad = append(bad, fmt.Sprintf("%s: its copy %s is missing", f.Path, copyPath))
		case err != nil:
			bad = append(bad, fmt.Sprintf("%s: its copy %s cannot be read: %v", f.Path, copyPath, err))
		case h != f.OldHash:
			bad = append(bad, fmt.Sprintf("%s: its copy %s is damaged (sha256 %.12s…, the backup recorded %.12s…)", f.Path, copyPath, h, f.OldHash))
		default:
			continue
		}
		if other := b.intactCopyElsewhere(f); other != "" {
			bad[len(bad)-1] += fmt.Sprintf("; an intact copy of the same content is %s: cp -p %s %s", other, other, copyPath)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%w: nothing was changed, because backup %s holds copies that do not match what it recorded:\n  - %s\n"+
		"The files on the node are as the apply left them. To roll back, put a good copy of each file named in its place in the backup (with the recorded sha256) and roll back again, or roll back an older backup instead",
		ErrDamagedBackup, b.Dir, strings.Join(bad, "\n  - "))
}

// intactCopyElsewhere returns another backup's copy (next to b) of f's file with the
// content f recorded, when one is intact; "" when there is none.
func (b *Backup) intactCopyElsewhere(f BackupFile) string {
	list, err := ListBackups(filepath.Dir(b.Dir))
	if err != nil {
		return ""
	}
	for _, o := range list {
		if o.Dir == b.Dir {
			continue
		}
		for _, of := range o.Files {
			if of.Path != f.Path || !of.Existed || of.OldHash != f.OldHash {
				continue
			}
			rel, err := CleanPath(of.Copy)
			if err != nil {
				continue
			}
			p := filepath.Join(o.Dir, filepath.FromSlash(rel))
			if h, err := fileHash(p); err == nil && h == f.OldHash {
				return p
			}
		}
	}
	return ""
}

func restoreOne(root string, b *Backup, f BackupFile) error {
	rel, err := CleanPath(f.Path)
	if err != nil {
		return err
	}
	file := diskPath(root, rel)
	atomicfile.RemoveTemps(file)
	info, err := lstatUnder(root, rel)
	if err != nil {
		return err
	}
	if f.Dir {
		if info == nil || !info.IsDir() {
			return fmt.Errorf("%s is no longer a folder, so its mode %04o cannot be put back", file, uint32(f.Mode))
		}
		if info.Mode().Perm() == fs.FileMode(f.Mode).Perm() {
			return nil
		}
		return chmodSynced(file, fs.FileMode(f.Mode).Perm(), rel, func(string) {})
	}
	if !f.Existed {
		if info == nil {
			return nil
		}
		if h, err := fileHash(file); err != nil || h != f.NewHash {
			return fmt.Errorf("%s was changed after the plan created it, so it was left in place; remove it by hand if it should go", file)
		}
		if err := os.Remove(file); err != nil {
			return fmt.Errorf("remove %s: %w", file, err)
		}
		return atomicfile.SyncDir(filepath.Dir(file))
	}
	data, err := os.ReadFile(filepath.Join(b.Dir, filepath.FromSlash(f.Copy)))
	if err != nil {
		return fmt.Errorf("restore %s: %w", file, err)
	}
	if hashOf(data) != f.OldHash {
		return fmt.Errorf("restore %s: the copy in %s does not match the hash in its index; it is damaged, restore this file by hand", file, b.Dir)
	}
	if info != nil && info.Mode().IsRegular() && ownerOf(info) == (owner{uid: f.UID, gid: f.GID}) {
		if h, err := fileHash(file); err == nil && h == f.OldHash {
			if info.Mode().Perm() == fs.FileMode(f.Mode) {
				return nil
			}
			// Only the mode changed (a mode-only change): set it back in place.
			return chmodSynced(file, fs.FileMode(f.Mode).Perm(), rel, func(string) {})
		}
	}
	if _, err := mkdirs(root, path.Dir(rel), 0o755, func(string) {}); err != nil {
		return err
	}
	return writeAtomic(file, data, fs.FileMode(f.Mode).Perm(), owner{uid: f.UID, gid: f.GID}, rel, func(string) {})
}

// Restored reports whether the files under root already are as the backup found them:
// every replaced file with its old content and mode, every created file gone, every
// folder with its old mode. A rollback then has nothing to do.
func (b *Backup) Restored(root string) bool { return len(verify(root, b)) == 0 }

// verify checks the files under root against the backup index after a restore.
func verify(root string, b *Backup) []error {
	var errs []error
	for _, f := range b.Files {
		file := diskPath(root, f.Path)
		if f.Dir {
			if info, err := os.Lstat(file); err != nil || !info.IsDir() || info.Mode().Perm() != fs.FileMode(f.Mode) {
				errs = append(errs, fmt.Errorf("the folder %s does not have its mode %04o back", file, uint32(f.Mode)))
			}
			continue
		}
		h, err := fileHash(file)
		switch {
		case !f.Existed && errors.Is(err, fs.ErrNotExist):
		case !f.Existed:
			errs = append(errs, fmt.Errorf("%s is still there after restore", file))
		case err != nil:
			errs = append(errs, fmt.Errorf("check %s after restore: %w", file, err))
		case h != f.OldHash:
			errs = append(errs, fmt.Errorf("%s does not match its backup after restore", file))
		default:
			if info, err := os.Lstat(file); err == nil && info.Mode().Perm() != fs.FileMode(f.Mode) {
				errs = append(errs, fmt.Errorf("%s has mode %04o after restore, its backup says %04o", file, info.Mode().Perm(), uint32(f.Mode)))
			}
		}
	}
	return errs
}

func fileHash(file string) (string, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	return hashOf(data), nil
}

// BackupOf returns the newest complete backup under backupRoot that an apply of p made
// (the same files, with the same planned content), or nil when there is none: after an
// apply that stopped part way, it is the backup that undoes it.
func BackupOf(backupRoot string, p *Plan) (*Backup, error) {
	list, err := ListBackups(backupRoot)
	if err != nil {
		return nil, err
	}
	want := map[string]string{}
	for _, c := range p.Changes {
		want[c.Path] = c.NewHash()
		if c.Dir {
			want[c.Path] = ""
		}
	}
	for _, b := range list {
		if len(b.Files) != len(want) {
			continue
		}
		same := true
		for _, f := range b.Files {
			if h, ok := want[f.Path]; !ok || h != f.NewHash {
				same = false
				break
			}
		}
		if same {
			return b, nil
		}
	}
	return nil, nil
}
