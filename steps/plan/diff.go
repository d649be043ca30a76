package plan

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// contextLines is the number of unchanged lines around each hunk, as in `diff -u`.
const contextLines = 3

// FileDiff is the reviewable form of one Change.
type FileDiff struct {
	// Path is relative to the root, slash-separated.
	Path string
	// Mode is the permission the file will have (for a replaced file whose mode is
	// kept, its current one).
	Mode fs.FileMode
	// New is true when the plan creates the file.
	New bool
	// Secret is true for files holding keys: Text is empty, only counts are given.
	Secret bool
	// ModeOnly is true when only the mode changes, from OldMode to Mode (see
	// Plan.Chmod); Dir when the change is a folder's. Text is then the patch's comment
	// line that names the change.
	ModeOnly, Dir bool
	// OldMode is the permission before the plan (0 for a new file).
	OldMode fs.FileMode
	// Added and Removed count the lines added and removed.
	Added, Removed int
	// Reasons say why the file changes.
	Reasons []string
	// Text is the file's part of the patch: git header, ---/+++ lines and hunks.
	// It is empty for a secret file.
	Text string
}

// FileDiffs returns one FileDiff per change, in plan order, secret ones included
// (without text) so that the UI can name them.
func (p *Plan) FileDiffs() []FileDiff {
	out := make([]FileDiff, 0, len(p.Changes))
	for _, c := range p.Changes {
		out = append(out, fileDiff(c))
	}
	return out
}

// SecretFiles returns the paths of changes left out of the patch because they hold secrets.
func (p *Plan) SecretFiles() []string {
	var out []string
	for _, c := range p.Changes {
		if c.Secret {
			out = append(out, c.Path)
		}
	}
	return out
}

// Patch returns the plan as one unified diff with git headers, a/ and b/ paths
// relative to the root, accepted by `git apply` and `patch -p1` run in the root.
// Secret files are only named, in "#" comment lines before the first diff, which both
// tools skip. So are mode changes a patch cannot carry (git only knows 0644 and 0755):
// "# mode 0644 -> 0600 of path". A plan whose only changes are secret or modes yields
// just those comments.
func (p *Plan) Patch() []byte {
	var b bytes.Buffer
	for _, c := range p.Changes {
		if c.Secret && !c.ModeOnly() {
			verb := "replaced"
			if !c.Existed {
				verb = "created"
			}
			fmt.Fprintf(&b, "# secret file %s, mode %04o: %s by the plan, content left out of this patch\n", c.Path, c.Mode.Perm(), verb)
		}
		b.WriteString(modeComment(c))
	}
	for _, c := range p.Changes {
		if !c.Secret && !c.ModeOnly() {
			b.WriteString(fileDiff(c).Text)
		}
	}
	return b.Bytes()
}

// modeComment is the patch's comment line for a mode change that git's "old mode" and
// "new mode" lines cannot carry, "" when there is none.
func modeComment(c *Change) string {
	if !c.Existed || !c.ModeSet || c.Mode.Perm() == c.OldMode.Perm() || (!c.ModeOnly() && !c.Secret && gitMode(c.Mode) != gitMode(c.OldMode)) {
		return ""
	}
	kind := "file"
	if c.Dir {
		kind = "folder"
	}
	return fmt.Sprintf("# mode %04o -> %04o of the %s %s: not carried by this patch; in the root run: chmod %04o %s\n",
		c.OldMode.Perm(), c.Mode.Perm(), kind, c.Path, c.Mode.Perm(), c.Path)
}

// fileDiff builds the FileDiff of c; the text is left out for a secret.
func fileDiff(c *Change) FileDiff {
	d := FileDiff{Path: c.Path, Mode: c.Mode.Perm(), New: !c.Existed, Secret: c.Secret,
		ModeOnly: c.ModeOnly(), Dir: c.Dir, OldMode: c.OldMode.Perm(), Reasons: append([]string(nil), c.Reasons...)}
	if d.ModeOnly {
		d.Text = modeComment(c)
		return d
	}
	from := "a/" + c.Path
	if !c.Existed {
		from = "/dev/null"
	}
	old, nw := string(c.Old), string(c.New)
	u, err := udiff.ToUnifiedDiff(from, "b/"+c.Path, old, udiff.Lines(old, nw), contextLines)
	if err != nil {
		// Cannot happen: the edits come from the same two strings.
		panic(fmt.Sprintf("plan: diff of %s: %v", c.Path, err))
	}
	for _, h := range u.Hunks {
		for _, l := range h.Lines {
			switch l.Kind {
			case udiff.Insert:
				d.Added++
			case udiff.Delete:
				d.Removed++
			}
		}
	}
	if c.Secret {
		return d
	}
	var t strings.Builder
	fmt.Fprintf(&t, "diff --git a/%s b/%s\n", c.Path, c.Path)
	switch {
	case !c.Existed:
		fmt.Fprintf(&t, "new file mode %s\n", gitMode(c.Mode))
	case c.ModeSet && gitMode(c.Mode) != gitMode(c.OldMode):
		fmt.Fprintf(&t, "old mode %s\nnew mode %s\n", gitMode(c.OldMode), gitMode(c.Mode))
	}
	t.WriteString(u.String())
	d.Text = t.String()
	return d
}

// gitMode is the mode git records: it only knows executable or not.
func gitMode(m fs.FileMode) string {
	if m&0o111 != 0 {
		return "100755"
	}
	return "100644"
}
