// Package render is the contract between the wizard's steps and the screen: a step hands
// plain view data (a header, facts, checks, a diff, an error, a summary) to a Renderer,
// and the backend decides how it looks. render/tui draws with lipgloss; render/plain
// writes text with no escape codes for logs, pipes, TERM=dumb and screen readers.
package render

// Renderer turns view data into text. Every method returns the text for one block,
// sized to fit width columns (0 means no limit); it never writes anywhere itself.
type Renderer interface {
	Header(h Header, width int) string
	Facts(f []Fact, width int) string
	Checks(c []Check, width int) string
	Diff(d Diff, width int) string
	Error(e Error, width int) string
	Summary(s Summary, width int) string
	Table(t Table, width int) string
}

// Header names the step and where it stands in the wizard: "Step 2 of 5".
type Header struct {
	Step  int    // 1-based
	Of    int    // number of steps
	Title string // e.g. "Certificates"
	Intro string // one sentence on what the step does; may be empty
}

// Fact is one key/value line, e.g. {"etcd image", "registry.k8s.io/etcd:3.5.12-0"}.
type Fact struct {
	Key, Value string
	// Masked values (keys, passwords) are shown as dots by every backend.
	Masked bool
}

// Status of a check.
type Status string

// The three outcomes of a check, spelled as in `audit -o json`.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one named check with its outcome and, when not passing, how to fix it.
type Check struct {
	ID     string // e.g. "2.1"
	Title  string
	Status Status
	Detail string // what was found
	Fix    string // what to do; shown only when Status is not Pass
}

// Diff is a unified diff of a set of files.
type Diff struct {
	Files []DiffFile
}

// DiffFile is the diff of one file. For secret files Text is empty and only the path and
// mode are shown.
type DiffFile struct {
	Path    string
	Mode    string // e.g. "0600"
	New     bool
	Secret  bool
	Added   int
	Removed int
	Text    string // the unified diff text of this file ("--- a/...", "+++ b/...", hunks)
}

// Error is what went wrong, to what, and what to do about it.
type Error struct {
	What string // "etcd did not come back over TLS"
	Path string // the file or endpoint it concerns; may be empty
	Fix  string // what the user can do next; may be empty
}

// Summary closes the wizard: what was written and what is left to the user.
type Summary struct {
	Title   string
	Written []Fact   // file path -> mode
	Todo    []string // steps left to the user, in order
	Notes   []string
}

// Table is rows of cells under a header, one column per header cell, e.g. the pairs
// `certs check` lists. Every row has as many cells as the header.
type Table struct {
	Header []string
	Rows   [][]string
}

// Mask is what the tui shows in place of a Masked value, whatever its length, so that
// the screen gives away neither the value nor its size. The plain backend writes
// "(hidden)" instead, which a screen reader reads better than eight bullets.
const Mask = "••••••••"
