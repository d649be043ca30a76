package preview

import (
	"path"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/tui"
)

// Layout: a file list beside the diff from wideFrom columns on, a line of file tabs above
// it when narrower. Either only with two files or more.
const (
	wideFrom     = 100
	listMin      = 24
	listMax      = 36
	columnGap    = 3 // " │ "
	linesPerFile = 2 // name, then its stat
)

// build renders every file once at width and notes where files and hunks start.
func build(r *tui.Renderer, theme tui.Theme, files []render.DiffFile, width int) content {
	c := content{width: width, starts: make([]int, 0, len(files))}
	for i, f := range files {
		if i > 0 {
			c.lines = append(c.lines, "")
		}
		c.starts = append(c.starts, len(c.lines))
		fl := r.DiffLines(f, width)
		if len(fl) == 0 {
			// A change of mode only, or an empty new file: say so rather than show nothing.
			fl = []string{theme.Muted.Render(ansi.Truncate(f.Path+" ("+fileStat(f)+") — no change to the content", width, "…"))}
		}
		for j, l := range fl {
			if isHunk(l) {
				c.hunks = append(c.hunks, len(c.lines)+j)
			}
		}
		c.lines = append(c.lines, fl...)
	}
	return c
}

// isHunk reports whether a styled screen line is a hunk header. Continuations of wrapped
// lines start with ↪ and diff lines with a sign or a space, so only headers start "@@".
func isHunk(l string) bool {
	return strings.Contains(l, "@@") && strings.HasPrefix(ansi.Strip(l), "@@")
}

// summary is "3 files · +18 −1 · 1 secret file hidden".
func summary(files []render.DiffFile) string {
	added, removed, secret := 0, 0, 0
	for _, f := range files {
		added += f.Added
		removed += f.Removed
		if f.Secret {
			secret++
		}
	}
	s := plural(len(files), "file", "files") + " · +" + strconv.Itoa(added) + " −" + strconv.Itoa(removed)
	if secret > 0 {
		s += " · " + plural(secret, "secret file", "secret files") + " hidden"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// fileStat is one file's line in the list: "+5 −1 · 0600", "new · 0600 · hidden".
func fileStat(f render.DiffFile) string {
	var parts []string
	if f.New {
		parts = append(parts, "new")
	}
	if !f.Secret {
		parts = append(parts, "+"+strconv.Itoa(f.Added)+" −"+strconv.Itoa(f.Removed))
	}
	if f.Mode != "" {
		parts = append(parts, f.Mode)
	}
	if f.Secret {
		parts = append(parts, "hidden")
	}
	return strings.Join(parts, " · ")
}

// fileName is how the list and the tabs name a file: its base name, after a lock when
// its content is secret. The diff itself shows the whole path.
func fileName(f render.DiffFile) string {
	if f.Secret {
		return "🔒 " + path.Base(f.Path)
	}
	return path.Base(f.Path)
}

func (m *Model) wide() bool { return m.width >= wideFrom && len(m.files) > 1 }

// tabs and helpBar say whether those rows are drawn; a very short window keeps its rows
// for the diff.
func (m *Model) tabs() bool    { return m.width < wideFrom && len(m.files) > 1 && m.height >= 6 }
func (m *Model) helpBar() bool { return m.showHelp && m.height >= 3 }

func (m *Model) listWidth() int { return min(max(m.width*3/10, listMin), listMax) }

// diffWidth is the width the diff is wrapped to.
func (m *Model) diffWidth() int {
	if m.wide() {
		return max(m.width-m.listWidth()-columnGap, 1)
	}
	return m.width
}

// bodyHeight is the rows left for the diff under the summary (and tabs), above the help.
func (m *Model) bodyHeight() int {
	h := m.height - 1
	if m.tabs() {
		h--
	}
	if m.helpBar() {
		h--
	}
	return max(h, 1)
}

// View draws the summary line, the file tabs or list, the visible part of the diff and
// the help bar, in exactly the size given to SetSize. Its cost depends on the window's
// size, not on the diff's length.
func (m Model) View() string {
	if m.width == 0 {
		return ""
	}
	var b strings.Builder
	if len(m.files) == 0 {
		b.WriteString(m.theme.Muted.Render("No changes"))
	} else {
		b.WriteString(m.summaryLine())
		if m.tabs() {
			b.WriteString("\n" + m.chrome.tabs)
		}
		b.WriteString("\n")
		if m.wide() {
			m.writeColumns(&b)
		} else {
			b.WriteString(strings.Join(m.window(), "\n"))
		}
	}
	if m.helpBar() {
		b.WriteString("\n" + m.helpLine)
	}
	return b.String()
}

// summaryLine is the summary on the left and where the window is on the right.
func (m *Model) summaryLine() string {
	left := m.statLine
	total := len(m.body.lines)
	if total <= m.bodyHeight() {
		return ansi.Truncate(left, m.width, "…")
	}
	top := min(m.off, total-1)
	pos := "lines " + strconv.Itoa(top+1) + "–" + strconv.Itoa(min(top+m.bodyHeight(), total)) + " of " + strconv.Itoa(total)
	gap := m.width - width(left) - width(pos)
	if gap < 2 {
		return ansi.Truncate(left, m.width, "…")
	}
	return left + strings.Repeat(" ", gap) + m.theme.Muted.Render(pos)
}

// tabLine names every file, the current one highlighted, when the names fit; otherwise
// it names the current file and where it stands ("2/3").
func (m *Model) tabLine() string {
	t := m.theme
	names := make([]string, len(m.files))
	total := 0
	for i, f := range m.files {
		names[i] = fileName(f)
		total += width(names[i]) + 2
	}
	if total-2 <= m.width {
		for i := range names {
			if i == m.cur {
				names[i] = t.Selected.Render(names[i])
			} else {
				names[i] = t.Muted.Render(names[i])
			}
		}
		return strings.Join(names, "  ")
	}
	f := m.files[m.cur]
	s := t.Muted.Render(strconv.Itoa(m.cur+1)+"/"+strconv.Itoa(len(m.files))+" ") +
		t.Selected.Render(fileName(f)) + t.Muted.Render("  "+fileStat(f))
	return ansi.Truncate(s, m.width, "…")
}

// writeColumns draws the file list and the diff side by side, row by row.
func (m *Model) writeColumns(b *strings.Builder) {
	blank := strings.Repeat(" ", m.listWidth()) + m.sep()
	for i, d := range m.window() {
		if i > 0 {
			b.WriteString("\n")
		}
		if i < len(m.chrome.list) {
			b.WriteString(m.chrome.list[i])
		} else {
			b.WriteString(blank)
		}
		b.WriteString(d)
	}
}

// sep is the rule between the file list and the diff.
func (m *Model) sep() string { return " " + m.theme.Muted.Render("│") + " " }

// redraw draws the file tabs or list again when the file, the width or the height has
// changed since they were last drawn.
func (m *Model) redraw() {
	c := chrome{cur: m.cur, width: m.width, height: m.height}
	if m.chrome.cur == c.cur && m.chrome.width == c.width && m.chrome.height == c.height {
		return
	}
	switch {
	case m.tabs():
		c.tabs = m.tabLine()
	case m.wide():
		lw, sep := m.listWidth(), m.sep()
		for _, l := range m.listLines(lw, m.bodyHeight()) {
			c.list = append(c.list, l+strings.Repeat(" ", max(lw-width(l), 0))+sep)
		}
	}
	m.chrome = c
}

// window is the diff's lines on screen now, blank below the end: a slice of the lines
// rendered by SetSize, so a frame costs the same however long the diff.
func (m *Model) window() []string {
	h, lines := m.bodyHeight(), m.body.lines
	off := min(m.off, len(lines))
	out := make([]string, h)
	copy(out, lines[off:min(off+h, len(lines))])
	return out
}

// listLines is the file list, two lines a file, scrolled so the current file shows.
func (m *Model) listLines(w, h int) []string {
	t := m.theme
	fit := max(h/linesPerFile, 1)
	first := min(max(m.cur-fit+1, 0), max(len(m.files)-fit, 0))
	var out []string
	for i := first; i < len(m.files) && i < first+fit; i++ {
		f := m.files[i]
		name := ansi.Truncate(fileName(f), w-2, "…")
		if i == m.cur {
			out = append(out, t.Selected.Render("› "+name))
		} else {
			out = append(out, t.Text.Render("  "+name))
		}
		out = append(out, "  "+t.Muted.Render(ansi.Truncate(fileStat(f), w-2, "…")))
	}
	return out
}
