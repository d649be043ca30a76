// Package tui is the Renderer for terminals: lipgloss styles from a Theme, glyphs for
// check outcomes, a coloured diff and a boxed error. Every block fits the width it is
// given; lines are styled one by one so that a viewport can cut them anywhere.
package tui

import (
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"charm.land/lipgloss/v2/table"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/internal/text"
)

// Renderer draws view data with a Theme.
type Renderer struct {
	theme Theme
	diff  diffSpans
}

var _ render.Renderer = (*Renderer)(nil)

// New returns a Renderer that draws with theme.
func New(theme Theme) *Renderer {
	return &Renderer{theme: theme, diff: newDiffSpans(theme)}
}

// Theme returns the theme the Renderer draws with, for the parts of the screen the ui
// shell draws itself.
func (r *Renderer) Theme() Theme { return r.theme }

// minText is the narrowest column wrapped text is given, however deep its indent.
const minText = 12

// Header renders "Step 2 of 5 · Certificates ●●○○○" and the intro, muted, below it.
func (r *Renderer) Header(h render.Header, width int) string {
	t := r.theme
	var b strings.Builder
	if h.Of > 0 {
		b.WriteString(t.Muted.Render("Step " + strconv.Itoa(h.Step) + " of " + strconv.Itoa(h.Of) + " · "))
	}
	b.WriteString(t.Title.Render(h.Title))
	if h.Of > 0 {
		b.WriteString("  " + r.progress(h.Step, h.Of))
	}
	lines := []string{truncate(b.String(), width)}
	for _, l := range wrap(h.Intro, width, "") {
		lines = append(lines, t.Muted.Render(l))
	}
	return strings.Join(lines, "\n")
}

// progress draws one dot per step: filled up to and including the current one.
func (r *Renderer) progress(step, of int) string {
	step = max(0, min(step, of))
	return r.theme.StepDone.Render(strings.Repeat("●", step)) +
		r.theme.StepTodo.Render(strings.Repeat("○", of-step))
}

// Facts renders keys in an aligned column, values beside them wrapped under themselves,
// and masked values as render.Mask.
func (r *Renderer) Facts(facts []render.Fact, width int) string {
	t := r.theme
	keyW := 0
	for _, f := range facts {
		keyW = max(keyW, ansi.StringWidth(f.Key))
	}
	if width > 0 {
		keyW = min(keyW, max(width/3, 8))
	}
	var lines []string
	for _, f := range facts {
		keyLines := wrap(f.Key, keyW, "")
		var vals []string
		if f.Masked {
			vals = []string{t.Masked.Render(render.Mask)}
		} else {
			for _, v := range wrap(f.Value, textWidth(width, keyW+2), "/") {
				vals = append(vals, t.Value.Render(v))
			}
		}
		for i := range max(len(keyLines), len(vals)) {
			var k, v string
			if i < len(keyLines) {
				k = t.Key.Render(keyLines[i])
			}
			if i < len(vals) {
				v = vals[i]
			}
			lines = append(lines, strings.TrimRight(pad(k, keyW)+"  "+v, " "))
		}
	}
	return strings.Join(lines, "\n")
}

// Checks renders one line per check: a coloured glyph (✓ pass, ! warn, ✗ fail), the ID
// and the title, with the detail and, when the check did not pass, the fix under it.
func (r *Renderer) Checks(checks []render.Check, width int) string {
	t := r.theme
	idW := 0
	for _, c := range checks {
		idW = max(idW, ansi.StringWidth(c.ID))
	}
	indent := 2 // glyph and space
	if idW > 0 {
		indent += idW + 2
	}
	under := strings.Repeat(" ", indent)
	var lines []string
	for _, c := range checks {
		head := r.glyph(c.Status) + " "
		if idW > 0 {
			head += pad(t.Muted.Render(c.ID), idW) + "  "
		}
		for i, l := range wrap(c.Title, textWidth(width, indent), "") {
			if i > 0 {
				head = under
			}
			lines = append(lines, head+t.Text.Render(l))
		}
		for _, l := range wrap(c.Detail, textWidth(width, indent), "/") {
			lines = append(lines, under+t.Muted.Render(l))
		}
		if c.Status == render.Pass || c.Fix == "" {
			continue
		}
		arrow := t.FixLabel.Render("→") + " "
		for i, l := range wrap(c.Fix, textWidth(width, indent+2), "/") {
			if i > 0 {
				arrow = "  "
			}
			lines = append(lines, under+arrow+t.Text.Render(l))
		}
	}
	return strings.Join(lines, "\n")
}

// glyph is the coloured mark of a status.
func (r *Renderer) glyph(s render.Status) string {
	switch s {
	case render.Pass:
		return r.theme.Pass.Render("✓")
	case render.Warn:
		return r.theme.Warn.Render("!")
	case render.Fail:
		return r.theme.Fail.Render("✗")
	}
	return r.theme.Muted.Render("·")
}

// Error renders a rounded box with what happened, the file or endpoint, and what to do.
func (r *Renderer) Error(e render.Error, width int) string {
	t := r.theme
	frame := t.ErrorBox.GetHorizontalFrameSize()
	inner := 0 // 0: as wide as the text
	if width > 0 {
		inner = max(width-frame, minText)
	}
	var lines []string
	for i, l := range wrap(e.What, textWidth(inner, 2), "") {
		head := t.ErrorTitle.Render("✗") + " "
		if i > 0 {
			head = "  "
		}
		lines = append(lines, head+t.ErrorTitle.Render(l))
	}
	rows := [][2]string{}
	if e.Path != "" {
		rows = append(rows, [2]string{pathLabel(e.Path), e.Path})
	}
	if e.Fix != "" {
		rows = append(rows, [2]string{"What to do", e.Fix})
	}
	if len(rows) > 0 {
		lines = append(lines, "")
	}
	const labelW = len("What to do")
	for _, row := range rows {
		label := t.ErrorLabel.Render(row[0])
		for _, l := range wrap(row[1], textWidth(inner, labelW+2), "/") {
			lines = append(lines, pad(label, labelW)+"  "+t.Text.Render(l))
			label = ""
		}
	}
	box := t.ErrorBox
	if width > 0 {
		natural := 0
		for _, l := range lines {
			natural = max(natural, ansi.StringWidth(l))
		}
		box = box.Width(min(natural+frame, width))
	}
	return box.Render(strings.Join(lines, "\n"))
}

// pathLabel names what an error's Path is.
func pathLabel(path string) string {
	if strings.Contains(path, "://") {
		return "Endpoint"
	}
	return "File"
}

// Summary renders the title with a check mark, the files written with their modes, the
// numbered steps left to the user and the notes.
func (r *Renderer) Summary(s render.Summary, width int) string {
	t := r.theme
	var blocks []string
	if s.Title != "" {
		lines := wrap(s.Title, textWidth(width, 2), "")
		head := t.Pass.Render("✓") + " "
		for i, l := range lines {
			lines[i] = head + t.Title.Render(l)
			head = "  "
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	if len(s.Written) > 0 {
		pathW := 0
		for _, f := range s.Written {
			pathW = max(pathW, ansi.StringWidth(f.Key))
		}
		modeW := 6 // "  0600"
		pathW = min(pathW, textWidth(width, 2+modeW))
		lines := []string{t.Title.Render("Written")}
		for _, f := range s.Written {
			paths := wrap(f.Key, pathW, "/")
			for i, p := range paths {
				line := "  " + pad(t.Text.Render(p), pathW)
				if i == len(paths)-1 {
					line += "  " + t.Muted.Render(f.Value)
				}
				lines = append(lines, strings.TrimRight(line, " "))
			}
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	if len(s.Todo) > 0 {
		lines := []string{t.Title.Render("Left to you")}
		numW := len(strconv.Itoa(len(s.Todo)))
		for i, todo := range s.Todo {
			num := t.Accent.Render(pad(strconv.Itoa(i+1), numW) + ".")
			for _, l := range wrap(todo, textWidth(width, 2+numW+2), "/") {
				lines = append(lines, "  "+num+" "+t.Text.Render(l))
				num = strings.Repeat(" ", numW+1)
			}
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	if len(s.Notes) > 0 {
		var lines []string
		for _, n := range s.Notes {
			for _, l := range wrap(n, width, "/") {
				lines = append(lines, t.Muted.Render(l))
			}
		}
		blocks = append(blocks, strings.Join(lines, "\n"))
	}
	return strings.Join(blocks, "\n\n")
}

// Table draws the header in the title style, ruled off in the muted colour, over the rows
// in columns two spaces apart, as the plain backend lines them up; the columns shrink
// (their cells wrap) to fit width when it is given.
func (r *Renderer) Table(tb render.Table, width int) string {
	t := r.theme
	lt := table.New().Headers(tb.Header...).Rows(tb.Rows...).
		Border(lipgloss.NormalBorder()).BorderStyle(t.Muted).BorderHeader(true).
		BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).BorderColumn(false).
		StyleFunc(func(row, col int) lipgloss.Style {
			s := t.Text
			if row == table.HeaderRow {
				s = t.Title
			}
			if col < len(tb.Header)-1 {
				s = s.PaddingRight(2)
			}
			return s
		})
	out := lt.Render()
	if width > 0 && lipgloss.Width(out) > width {
		out = lt.Width(width).Render() // shrink the columns; never stretch a narrow table
	}
	return out
}

// textWidth is the width left for text after indent columns, never below minText; 0
// (no limit) stays 0.
func textWidth(width, indent int) int {
	if width <= 0 {
		return 0
	}
	return max(width-indent, minText)
}

// wrap splits plain text into lines of at most width columns (0: no limit). It breaks
// between words, so a flag such as --trusted-ca-file stays whole; only a word longer than
// a line is cut, at one of breakpoints (or a hyphen) where it can.
func wrap(s string, width int, breakpoints string) []string {
	lines := text.Wrap(s, width, width)
	if width <= 0 {
		return lines
	}
	out := lines[:0:0]
	for _, l := range lines {
		if ansi.StringWidth(l) <= width {
			out = append(out, l)
			continue
		}
		out = append(out, strings.Split(ansi.Wrap(l, width, breakpoints), "\n")...)
	}
	return out
}

// pad fills s with spaces to w columns.
func pad(s string, w int) string {
	if n := w - ansi.StringWidth(s); n > 0 {
		return s + strings.Repeat(" ", n)
	}
	return s
}

// truncate cuts a styled line to width columns with an ellipsis (0: no limit).
func truncate(s string, width int) string {
	if width <= 0 || ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}
