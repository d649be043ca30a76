package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// BackupRoot is the folder that receives one timestamped backup folder per apply;
	// DefaultBackupRoot(root) when empty. Keep it outside the manifests folder.
	BackupRoot string
	// AfterWrite runs after each file is written and synced, in write order (for
	// example a health check after the etcd manifest changes). An error stops Apply,
	// which returns it with the backup; the caller decides whether to Restore.
	AfterWrite func(c *Change) error
	// Hook, for crash tests, is called at every point where the process could die:
	// "backup:copy <path>", "backup:index", "write:mkdir <dir>", "write:temp <path>",
	// "write:rename <path>", "write:synced <path>", "write:chmod <path>".
	Hook func(point string)
	// Now gives the backup's time stamp; time.Now when nil.
	Now func() time.Time
}

// DefaultBackupRoot is where backups go when ApplyOptions.BackupRoot is empty.
func DefaultBackupRoot(root string) string {
	return filepath.Join(root, "var", "lib", "etcd-harden", "backups")
}

// target is a change checked against the disk just before writing.
type target struct {
	c    *Change
	info fs.FileInfo // nil for a new file
	own  owner
	old  []byte // the content on disk when checked, whose hash is OldHash
}

// Apply writes the plan: it checks every file against what was planned, writes a
// complete backup (copies and index, synced), then writes new files first and then
// replaced files in plan order, each one atomically (temp file in the same folder,
// fsync, chmod/chown, rename, fsync of the folder). Replaced files keep their mode
// and owner unless Create set the mode. Nothing is written when a check fails: a file
// changed or created since planning (ErrStale) or a symbolic link on the way (ErrSymlink).
// An empty plan writes nothing and returns a nil Backup. After an error from a write
// or from AfterWrite, the returned Backup is complete and Restore puts the files back.
func (p *Plan) Apply(opts ApplyOptions) (*Backup, error) {
	if p.Empty() {
		return nil, nil
	}
	hook := opts.Hook
	if hook == nil {
		hook = func(string) {}
	}
	targets, err := p.check()
	if err != nil {
		return nil, err
	}
	backupRoot := opts.BackupRoot
	if backupRoot == "" {
		backupRoot = DefaultBackupRoot(p.Root)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	b, err := p.writeBackup(backupRoot, now(), targets, hook)
	if err != nil {
		return nil, fmt.Errorf("nothing was written: the backup could not be made: %w", err)
	}
	for _, t := range writeOrder(targets) {
		if err := p.write(t, hook); err != nil {
			return b, fmt.Errorf("%w; files written so far can be put back from the backup %s", err, b.Dir)
		}
		if opts.AfterWrite != nil {
			if err := opts.AfterWrite(t.c); err != nil {
				return b, fmt.Errorf("after writing %s: %w", t.c.Path, err)
			}
		}
	}
	return b, nil
}

// Check compares every change with the files under the root, as Apply does before it
// writes anything, and returns nil when all of them are as the plan found them. Its
// errors say that nothing was written and wrap ErrAlreadyApplied (every file is as the
// plan leaves it), ErrPartlyApplied (some are, the others are as the plan found them: an
// earlier apply stopped part way), ErrStale (a file changed, appeared or disappeared)
// or ErrSymlink.
func (p *Plan) Check() error {
	_, err := p.check()
	return err
}

// diskState is how one change compares with the disk.
type diskState int

const (
	asFound   diskState = iota // as the plan found it: to be written
	asPlanned                  // already as the plan leaves it
	changed                    // neither: it changed since the plan was made
)

// check compares every change with the disk and reports all problems at once.
func (p *Plan) check() ([]target, error) {
	if p.Empty() {
		return nil, nil
	}
	var errs []error
	var done []string
	targets := make([]target, 0, len(p.Changes))
	for _, c := range p.Changes {
		st, t, err := p.compare(c)
		switch {
		case err != nil:
			errs = append(errs, err)
		case st == asPlanned:
			done = append(done, c.Path)
		default:
			targets = append(targets, t)
		}
	}
	switch {
	case len(errs) > 0:
		return nil, fmt.Errorf("nothing was written: %w", errors.Join(errs...))
	case len(targets) == 0:
		return nil, fmt.Errorf("nothing was written: every file the plan changes under %s is already as the plan leaves it: %w", p.Root, ErrAlreadyApplied)
	case len(done) > 0:
		return nil, fmt.Errorf("nothing was written: %d of the %d files the plan changes under %s are already as the plan leaves it (%s), the others as the plan found them, so an earlier apply of this plan stopped part way: %w",
			len(done), len(p.Changes), p.Root, strings.Join(done, ", "), ErrPartlyApplied)
	}
	return targets, nil
}

// compare tells whether c's file is as the plan found it (with the target to write),
// as the plan leaves it, or changed since (with an error wrapping ErrStale).
func (p *Plan) compare(c *Change) (diskState, target, error) {
	file := diskPath(p.Root, c.Path)
	info, err := lstatUnder(p.Root, c.Path)
	if err != nil {
		return changed, target{}, err
	}
	stale := func(format string, a ...any) (diskState, target, error) {
		return changed, target{}, fmt.Errorf(format+"; plan again so you review what will really change: %w", append(a, ErrStale)...)
	}
	switch {
	case c.Dir && info == nil:
		return stale("the folder %s was removed after the plan was made", file)
	case c.Dir && !info.IsDir():
		return stale("%s is no longer a folder", file)
	case c.Dir && info.Mode().Perm() == c.Mode.Perm():
		return asPlanned, target{}, nil
	case c.Dir:
		return asFound, target{c: c, info: info, own: ownerOf(info)}, nil
	case !c.Existed && info == nil:
		return asFound, target{c: c}, nil
	case info == nil:
		return stale("%s was removed after the plan was made", file)
	case !info.Mode().IsRegular():
		return stale("%s is no longer a regular file (%s)", file, info.Mode().Type())
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return changed, target{}, fmt.Errorf("read %s: %w", file, err)
	}
	h, mode := hashOf(data), info.Mode().Perm()
	newHash := c.NewHash()
	switch {
	case c.Existed && h == c.OldHash && !(c.ModeOnly() && mode == c.Mode.Perm()):
		return asFound, target{c: c, info: info, own: ownerOf(info), old: data}, nil
	case h == newHash && (!c.ModeSet || mode == c.Mode.Perm()):
		return asPlanned, target{}, nil
	case h == newHash:
		return stale("%s has the planned content but mode %04o, not the planned %04o", file, mode, c.Mode.Perm())
	case !c.Existed:
		return stale("%s was created after the plan was made", file)
	}
	return stale("%s changed after the plan was made (sha256 %.12s, planned %.12s)", file, h, c.OldHash)
}

// writeOrder puts new files first, then replaced files, each in plan order: a new
// file (a key, an encryption config) must exist before a manifest points to it.
func writeOrder(ts []target) []target {
	out := make([]target, 0, len(ts))
	for _, t := range ts {
		if !t.c.Existed {
			out = append(out, t)
		}
	}
	for _, t := range ts {
		if t.c.Existed {
			out = append(out, t)
		}
	}
	return out
}

// write puts one change on disk.
func (p *Plan) write(t target, hook func(string)) error {
	c := t.c
	if c.ModeOnly() {
		return chmodSynced(diskPath(p.Root, c.Path), c.Mode.Perm(), c.Path, hook)
	}
	if _, err := mkdirs(p.Root, path.Dir(c.Path), c.DirMode, hook); err != nil {
		return err
	}
	mode, own := c.Mode.Perm(), t.own
	if t.info != nil && !c.ModeSet {
		mode = t.info.Mode().Perm()
	}
	if t.info == nil {
		own = owner{uid: -1, gid: -1}
	}
	return writeAtomic(diskPath(p.Root, c.Path), c.New, mode, own, c.Path, hook)
}

// mkdirs creates the folders of rel (slash-separated) under root with mode, one by
// one so that the mode is exact, and returns the ones it made.
func mkdirs(root, rel string, mode fs.FileMode, hook func(string)) ([]string, error) {
	if rel == "." || rel == "" {
		return nil, nil
	}
	if mode == 0 {
		mode = 0o755
	}
	var made []string
	cur := root
	for _, part := range strings.Split(rel, "/") {
		parent := cur
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if err == nil {
			if info.Mode()&fs.ModeSymlink != 0 {
				return made, fmt.Errorf("%s is a symbolic link; etcd-harden does not write through links: %w", cur, ErrSymlink)
			}
			if !info.IsDir() {
				return made, fmt.Errorf("%s is not a folder; move it away so the plan can create files under it", cur)
			}
			continue
		}
		if err := os.Mkdir(cur, mode); err != nil {
			return made, fmt.Errorf("create folder %s: %w", cur, err)
		}
		if err := os.Chmod(cur, mode); err != nil { // Mkdir's mode went through the umask
			return made, fmt.Errorf("set mode of folder %s: %w", cur, err)
		}
		if err := atomicfile.SyncDir(parent); err != nil {
			return made, err
		}
		made = append(made, cur)
		hook("write:mkdir " + filepath.ToSlash(strings.TrimPrefix(cur, filepath.Clean(root)+string(filepath.Separator))))
	}
	return made, nil
}

// writeAtomic replaces file with data (atomicfile.Write) and gives it its owner when own
// has ids. rel names the file for the hook ("write:temp <rel>", …).
func writeAtomic(file string, data []byte, mode fs.FileMode, own owner, rel string, hook func(string)) error {
	return atomicfile.Write(file, data, mode, atomicfile.Options{
		Prepare: func(f *os.File) error { return chown(f, own) },
		Hook:    func(point string) { hook("write:" + point + " " + rel) },
	})
}

// chmodSynced sets the mode of an existing file or folder in place and syncs it, so
// that the content is never rewritten (a manifest keeps its inode: the kubelet sees no
// new file). rel names it for the hook ("write:chmod <rel>").
func chmodSynced(file string, mode fs.FileMode, rel string, hook func(string)) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("change the mode of %s: %w", file, err)
	}
	defer f.Close()
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("change the mode of %s to %04o: %w", file, mode, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("change the mode of %s: %w", file, err)
	}
	hook("write:chmod " + rel)
	return nil
}
