// Package plan holds the changes the wizard's steps want to make to files under a
// root, turns them into a reviewable unified diff, and applies them atomically with
// backups that Restore puts back byte for byte.
//
// Steps never write files themselves: they add Changes to one Plan. Step 3 shows the
// Plan as a diff, then saves it as a patch or applies it.
package plan

import (
	"io/fs"
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
	OldHash string
	// New is the content the file will have.
	New []byte
	// Mode is the permission of the written file. For a replaced file Apply keeps
	// the existing file's mode and owner unless Mode was set explicitly by Create.
	Mode fs.FileMode
	// DirMode is the permission of folders Apply has to create for a new file.
	DirMode fs.FileMode
	// Secret marks files holding keys: the diff names them but never shows content.
	Secret bool
	// Reasons say why the file changes, one entry per step that edited it.
	Reasons []string
}

// Plan is an ordered list of changes to files under Root.
type Plan struct {
	// Root is the file-system prefix every Change.Path is relative to ("/" on a node).
	Root string
	// Changes in the order steps added them; one Change per path.
	Changes []*Change
}

// New returns an empty plan for files under root.
func New(root string) *Plan { return &Plan{Root: root} }

// Current returns what path will contain once the plan is applied: the New bytes of an
// earlier change to it, or else the file on disk (fs.ErrNotExist when neither).
func (p *Plan) Current(path string) ([]byte, error) { panic("todo") }

// Edit changes an existing file: fn gets the Current content and returns the new one.
// A later edit of the same path starts from the earlier one's result, so the diff shows
// the combined change. An edit that returns its input unchanged adds nothing.
func (p *Plan) Edit(path, reason string, fn func(old []byte) ([]byte, error)) error {
	panic("todo")
}

// Create adds a file with the given content and mode (replacing it if it exists);
// dirMode is used for folders that have to be made. Secret files never show in a diff.
func (p *Plan) Create(path string, data []byte, mode, dirMode fs.FileMode, secret bool, reason string) error {
	panic("todo")
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 }
