// Package plan holds the changes the wizard's steps want to make to files under a
// root, turns them into a reviewable unified diff, and applies them atomically with
// backups that Restore puts back byte for byte.
//
// Steps never write files themselves: they add Changes to one Plan. Step 3 shows the
// Plan as a diff, then saves it as a patch or applies it.
package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Errors callers can match with errors.Is.
var (
	// ErrOutsideRoot is returned for a path that is absolute or climbs out of the root.
	ErrOutsideRoot = errors.New("path is not inside the root")
	// ErrSymlink is returned when a target, or a folder on its way under the root, is a
	// symbolic link: the plan never writes through links.
	ErrSymlink = errors.New("symbolic link")
	// ErrStale is returned by Apply when a file changed on disk after it was planned.
	ErrStale = errors.New("file changed since the plan was made")
	// ErrAlreadyApplied is returned by Apply and Check when every file already is as
	// the plan leaves it: there is nothing to do.
	ErrAlreadyApplied = errors.New("the plan is applied already")
	// ErrPartlyApplied is returned by Apply and Check when some files are as the plan
	// leaves them and the others as it found them: an apply stopped part way.
	ErrPartlyApplied = errors.New("the plan is partly applied")
)

// Change is one file the plan creates or replaces.
type Change struct {
	// Path is slash-separated and relative to the plan's root, e.g.
	// "etc/kubernetes/manifests/etcd.yaml".
	Path string
	// Existed is true when the file was there when the change was first planned.
	Existed bool
	// Old is the file's content when the change was first planned (nil when new).
	Old []byte
	// OldHash is the hex sha256 of Old; Apply refuses the change when the file on
	// disk no longer has this hash (or has appeared since, for a new file).
	// It is "" for a new file.
	OldHash string
	// OldMode is the permission of the file when it was planned (0 when new).
	OldMode fs.FileMode
	// New is the content the file will have.
	New []byte
	// Mode is the permission of the written file. For a replaced file Apply keeps
	// the existing file's mode and owner unless Mode was set explicitly by Create
	// (ModeSet). Edit fills it with OldMode so that it can be shown.
	Mode fs.FileMode
	// ModeSet is true when Create chose Mode; Apply then sets it on a replaced file.
	ModeSet bool
	// DirMode is the permission of folders Apply has to create for a new file.
	DirMode fs.FileMode
	// Secret marks files holding keys: the diff names them but never shows content.
	Secret bool
	// Dir is true for a change of a folder's mode (see Chmod); Old and New are nil.
	Dir bool
	// Reasons say why the file changes, one entry per step that edited it.
	Reasons []string
}

// NewHash returns the hex sha256 of the content the change writes.
func (c *Change) NewHash() string { return hashOf(c.New) }

// ModeOnly reports whether the change only sets the mode of an existing file or folder
// (see Chmod): Apply then changes the mode in place and never rewrites the content.
func (c *Change) ModeOnly() bool {
	return c.Existed && c.ModeSet && (c.Dir || c.OldHash == c.NewHash())
}

// noop reports whether applying the change would leave the file as it was.
func (c *Change) noop() bool {
	return c.Existed && bytes.Equal(c.Old, c.New) && (!c.ModeSet || c.Mode.Perm() == c.OldMode.Perm())
}

func (c *Change) addReason(reason string) {
	if reason != "" && !slices.Contains(c.Reasons, reason) {
		c.Reasons = append(c.Reasons, reason)
	}
}

// Plan is an ordered list of changes to files under Root. It is not safe for
// concurrent use: steps add their changes one after the other.
type Plan struct {
	// Root is the file-system prefix every Change.Path is relative to ("/" on a node).
	Root string
	// Changes in the order steps added them; one Change per path.
	Changes []*Change
}

// New returns an empty plan for files under root.
func New(root string) *Plan { return &Plan{Root: root} }

// Find returns the change planned for path, or nil.
func (p *Plan) Find(path string) *Change {
	rel, err := CleanPath(path)
	if err != nil {
		return nil
	}
	return p.find(rel)
}

func (p *Plan) find(rel string) *Change {
	for _, c := range p.Changes {
		if c.Path == rel {
			return c
		}
	}
	return nil
}

// Current returns what path will contain once the plan is applied: the New bytes of an
// earlier change to it, or else the file on disk (fs.ErrNotExist when neither).
func (p *Plan) Current(path string) ([]byte, error) {
	rel, err := CleanPath(path)
	if err != nil {
		return nil, err
	}
	if c := p.find(rel); c != nil {
		return bytes.Clone(c.New), nil
	}
	data, _, err := p.readDisk(rel)
	return data, err
}

// Edit changes an existing file: fn gets the Current content and returns the new one.
// A later edit of the same path starts from the earlier one's result, so the diff shows
// the combined change. An edit that returns its input unchanged adds nothing, and an
// edit that brings the file back to its content on disk removes the change.
func (p *Plan) Edit(path, reason string, fn func(old []byte) ([]byte, error)) error {
	rel, err := CleanPath(path)
	if err != nil {
		return err
	}
	c := p.find(rel)
	if c == nil {
		old, info, err := p.readDisk(rel)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: cannot edit a file that does not exist under %s; check the path or create the file first: %w", rel, p.Root, err)
		}
		if err != nil {
			return err
		}
		c = &Change{Path: rel, Existed: true, Old: old, OldHash: hashOf(old),
			OldMode: info.Mode().Perm(), Mode: info.Mode().Perm(), New: old}
	}
	out, err := fn(bytes.Clone(c.New))
	if err != nil {
		return fmt.Errorf("%s: %w", rel, err)
	}
	if bytes.Equal(out, c.New) {
		return nil
	}
	c.New = bytes.Clone(out)
	c.addReason(reason)
	p.put(c)
	return nil
}

// Create adds a file with the given content and mode (replacing it if it exists);
// dirMode is used for folders that have to be made (0755 when 0). A zero mode means
// 0644. Secret files never show in a diff and are never readable by group or others:
// their mode keeps only the owner bits (0600 when that leaves nothing).
func (p *Plan) Create(path string, data []byte, mode, dirMode fs.FileMode, secret bool, reason string) error {
	rel, err := CleanPath(path)
	if err != nil {
		return err
	}
	mode = mode.Perm()
	if mode == 0 {
		mode = 0o644
	}
	if dirMode == 0 {
		dirMode = 0o755
	}
	c := p.find(rel)
	if c == nil {
		old, info, err := p.readDisk(rel)
		switch {
		case err == nil:
			c = &Change{Path: rel, Existed: true, Old: old, OldHash: hashOf(old), OldMode: info.Mode().Perm()}
		case errors.Is(err, fs.ErrNotExist):
			c = &Change{Path: rel}
		default:
			return err
		}
	}
	c.Secret = c.Secret || secret
	if c.Secret {
		mode &= 0o700
		if mode == 0 {
			mode = 0o600
		}
	}
	c.New, c.Mode, c.ModeSet, c.DirMode = bytes.Clone(data), mode, true, dirMode.Perm()
	c.addReason(reason)
	p.put(c)
	return nil
}

// Chmod plans mode for an existing file or folder under the root, its content left as
// it is (CIS wants keys and manifests 0600, etcd's data folder 0700). Apply backs up the
// old mode and Restore puts it back. On a path that already has a change, the change
// writes the file with mode. A mode the path already has adds nothing.
func (p *Plan) Chmod(path string, mode fs.FileMode, reason string) error {
	rel, err := CleanPath(path)
	if err != nil {
		return err
	}
	mode = mode.Perm()
	c := p.find(rel)
	if c == nil {
		info, err := lstatUnder(p.Root, rel)
		switch {
		case err != nil:
			return err
		case info == nil:
			return fmt.Errorf("%s: cannot change the mode of something that does not exist under %s: %w", rel, p.Root, fs.ErrNotExist)
		case info.IsDir():
			c = &Change{Path: rel, Existed: true, Dir: true, OldMode: info.Mode().Perm(), Mode: info.Mode().Perm()}
		default:
			old, info, err := p.readDisk(rel)
			if err != nil {
				return err
			}
			c = &Change{Path: rel, Existed: true, Old: old, OldHash: hashOf(old), OldMode: info.Mode().Perm(),
				Mode: info.Mode().Perm(), New: old}
		}
	}
	if c.ModeSet && c.Mode.Perm() == mode {
		return nil
	}
	c.Mode, c.ModeSet = mode, true
	c.addReason(reason)
	p.put(c)
	return nil
}

// MarkSecret marks the planned change to path as holding secrets (for example an
// encryption config that Edit rotated), so that the diff names it without content.
func (p *Plan) MarkSecret(path string) error {
	rel, err := CleanPath(path)
	if err != nil {
		return err
	}
	c := p.find(rel)
	if c == nil {
		return fmt.Errorf("%s: no change planned for this file, so there is nothing to mark secret", rel)
	}
	c.Secret = true
	return nil
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }

// put stores c in plan order, or drops it when it would change nothing.
func (p *Plan) put(c *Change) {
	i := slices.Index(p.Changes, c)
	switch {
	case c.noop() && i >= 0:
		p.Changes = slices.Delete(p.Changes, i, i+1)
	case c.noop():
	case i < 0:
		p.Changes = append(p.Changes, c)
	}
}

// CleanPath returns path in the plan's form (slash-separated, cleaned, relative), or
// an error wrapping ErrOutsideRoot for an absolute path or one that climbs out with "..".
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty file path: give a path relative to the root: %w", ErrOutsideRoot)
	}
	s := filepath.ToSlash(p)
	if path.IsAbs(s) || filepath.IsAbs(p) {
		return "", fmt.Errorf("%s: absolute path; give the path relative to the root, e.g. %q: %w",
			p, strings.TrimLeft(s, "/"), ErrOutsideRoot)
	}
	c := path.Clean(s)
	if c == "." || c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%s: path climbs out of the root with \"..\"; give a path inside the root: %w", p, ErrOutsideRoot)
	}
	return c, nil
}

// diskPath returns where rel lives on disk.
func diskPath(root, rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }

// readDisk reads rel under the root, refusing links and anything but a regular file.
func (p *Plan) readDisk(rel string) ([]byte, fs.FileInfo, error) {
	info, err := lstatUnder(p.Root, rel)
	if err != nil {
		return nil, nil, err
	}
	if info == nil {
		return nil, nil, fmt.Errorf("%s: %w", diskPath(p.Root, rel), fs.ErrNotExist)
	}
	if !info.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file (%s); the plan only changes regular files", diskPath(p.Root, rel), info.Mode().Type())
	}
	data, err := os.ReadFile(diskPath(p.Root, rel))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", diskPath(p.Root, rel), err)
	}
	return data, info, nil
}

// lstatUnder checks every component of rel below root without following links. It
// returns the target's info, nil when the target (or a folder before it) is missing, and
// an error wrapping ErrSymlink when any component is a link.
func lstatUnder(root, rel string) (fs.FileInfo, error) {
	parts := strings.Split(rel, "/")
	cur := root
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		info, err := os.Lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("check %s: %w", cur, err)
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s is a symbolic link; etcd-harden does not write through links: replace it with the real file or folder, or point --root at the real location: %w", cur, ErrSymlink)
		}
		if i == len(parts)-1 {
			return info, nil
		}
		if !info.IsDir() {
			return nil, fmt.Errorf("%s is not a folder, so %s cannot be under it", cur, rel)
		}
	}
	return nil, nil
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
