// Package plain is the Renderer for logs, pipes, TERM=dumb and screen readers: words
// instead of glyphs and colours, one fact per line, no escape codes at all.
package plain

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/internal/text"
)

// hidden stands in for a masked value: a screen reader would read render.Mask out as
// eight "bullet"s.
const hidden = "(hidden)"

// Renderer writes plain text. Its zero value is ready to use.
type Renderer struct{}

var _ render.Renderer = Renderer{}

// New returns the plain Renderer.
func New() Renderer { return Renderer{} }

// Header renders "Step 2 of 5: Certificates" and the intro on the next line.
func (Renderer) Header(h render.Header, width int) string {
	var b strings.Builder
	if h.Of > 0 {
		fmt.Fprintf(&b, "Step %d of %d: ", h.Step, h.Of)
	}
	b.WriteString(h.Title)
	out := wrap(b.String(), width, "")
	if h.Intro != "" {
		out += "\n" + wrap(h.Intro, width, "")
	}
	return out
}

// Facts renders one "key: value" line per fact; masked values read "(hidden)".
func (Renderer) Facts(facts []render.Fact, width int) string {
	lines := make([]string, 0, len(facts))
	for _, f := range facts {
		v := f.Value
		if f.Masked {
			v = hidden
		}
		lines = append(lines, wrap(f.Key+": "+v, width, "  "))
	}
	return strings.Join(lines, "\n")
}

// Checks renders "[PASS] 2.1 title", with the detail and, for a check that did not pass,
// "fix: ..." indented under it.
func (Renderer) Checks(checks []render.Check, width int) string {
	lines := make([]string, 0, len(checks))
	for _, c := range checks {
		title := c.Title
		if c.ID != "" {
			title = c.ID + " " + title
		}
		lines = append(lines, wrap(statusWord(c.Status)+" "+title, width, "  "))
		if c.Detail != "" {
			lines = append(lines, wrap("  "+c.Detail, width, "  "))
		}
		if c.Status != render.Pass && c.Fix != "" {
			lines = append(lines, wrap("  fix: "+c.Fix, width, "  "))
		}
	}
	return strings.Join(lines, "\n")
}

func statusWord(s render.Status) string {
	switch s {
	case render.Pass:
		return "[PASS]"
	case render.Warn:
		return "[WARN]"
	case render.Fail:
		return "[FAIL]"
	}
	return "[" + strings.ToUpper(string(s)) + "]"
}

// Diff renders the raw unified text of each file, unwrapped so that it can be piped to
// patch; a secret file is one line naming it. width is ignored.
// An empty diff reads "No changes".
func (Renderer) Diff(d render.Diff, _ int) string {
	if len(d.Files) == 0 {
		return "No changes"
	}
	parts := make([]string, 0, len(d.Files))
	for _, f := range d.Files {
		if f.Secret {
			parts = append(parts, secretLine(f))
			continue
		}
		parts = append(parts, strings.TrimRight(f.Text, "\n"))
	}
	return strings.Join(parts, "\n")
}

// secretLine is how a secret file appears in place of its diff:
// "path (mode 0600): secret, content hidden".
func secretLine(f render.DiffFile) string {
	var b strings.Builder
	b.WriteString(f.Path)
	if f.Mode != "" {
		b.WriteString(" (mode " + f.Mode + ")")
	}
	b.WriteString(": ")
	if f.New {
		b.WriteString("new ")
	}
	b.WriteString("secret, content hidden")
	return b.String()
}

// Error renders "Error: ...", "File: ..." (or "Endpoint: ...") and "What to do: ...".
func (Renderer) Error(e render.Error, width int) string {
	lines := []string{wrap("Error: "+e.What, width, "  ")}
	if e.Path != "" {
		lines = append(lines, wrap(pathLabel(e.Path)+": "+e.Path, width, "  "))
	}
	if e.Fix != "" {
		lines = append(lines, wrap("What to do: "+e.Fix, width, "  "))
	}
	return strings.Join(lines, "\n")
}

// pathLabel names what an error's Path is: "Endpoint" for a URL, "File" otherwise.
func pathLabel(path string) string {
	if strings.Contains(path, "://") {
		return "Endpoint"
	}
	return "File"
}

// Summary renders the title, the files written with their modes, the numbered steps left
// to the user and the notes.
func (Renderer) Summary(s render.Summary, width int) string {
	var blocks []string
	if s.Title != "" {
		blocks = append(blocks, wrap(s.Title, width, ""))
	}
	if len(s.Written) > 0 {
		lines := []string{"Written:"}
		for _, f := range s.Written {
			line := "  " + f.Key
			if f.Value != "" {
				line += " (mode " + f.Value + ")"
			}
			lines = append(lines, wrap(line, width, "    "))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	if len(s.Todo) > 0 {
		lines := []string{"Left to you:"}
		for i, t := range s.Todo {
			lines = append(lines, wrap("  "+strconv.Itoa(i+1)+". "+t, width, "     "))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	if len(s.Notes) > 0 {
		lines := []string{"Notes:"}
		for _, n := range s.Notes {
			lines = append(lines, wrap("  - "+n, width, "    "))
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	return strings.Join(blocks, "\n\n")
}

// Table renders the header and rows in columns two spaces apart, as text/tabwriter lines
// them up, so that awk and cut can read them. Rows are never wrapped: width is ignored.
func (Renderer) Table(t render.Table, width int) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, row := range append([][]string{t.Header}, t.Rows...) {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	tw.Flush() // a strings.Builder does not fail
	return strings.TrimSuffix(b.String(), "\n")
}

// wrap word-wraps s to width (0: no limit), keeping its leading spaces, and indents the
// lines after the first with indent. Words longer than a line, such as paths, are left
// whole so they can still be copied.
func wrap(s string, width int, indent string) string {
	if width <= 0 || ansi.StringWidth(s) <= width {
		return s
	}
	body := strings.TrimLeft(s, " ")
	lead := s[:len(s)-len(body)]
	lines := text.Wrap(body, width-len(lead), width-len(indent))
	return lead + strings.Join(lines, "\n"+indent)
}
