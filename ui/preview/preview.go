// Package preview is the wizard's review of a plan before it is written: a scrollable,
// coloured unified diff of every file, a file list to jump between files, hunk
// navigation, a summary line and a help bar. It is a bubbletea v2 component (Init, Update,
// View() string) for a wizard step to wrap; PlainView is the same review without a
// terminal UI.
//
// Secret files are listed by path and mode only: the preview draws render.DiffFile.Text,
// which the plan leaves empty for them, and never anything else of the file.
package preview

import (
	"sort"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/tui"
)

// Model is the diff preview. It is a value, like the bubbles components: Update returns
// the new Model. It draws nothing until it has a size: call SetSize (or send a
// tea.WindowSizeMsg) with the space it has.
type Model struct {
	keys     KeyMap
	files    []render.DiffFile
	theme    tui.Theme
	r        *tui.Renderer
	help     help.Model
	showHelp bool

	width, height int
	body          content // the diff, rendered once per diff width
	off           int     // the diff line at the top of the window
	cur           int     // the file the list highlights
	mark          int     // line of the hunk n/N last jumped to, or -1

	// Drawn when they change rather than once a frame.
	statLine string // the styled summary
	helpLine string
	chrome   chrome
}

// content is every screen line of the diff at one width, with where files and hunks
// start, so that a frame only slices it.
type content struct {
	width  int
	lines  []string
	starts []int // first line of each file
	hunks  []int // line of each "@@" hunk header, ascending
}

// chrome is the file tabs or list as drawn for one file, width and height.
type chrome struct {
	cur, width, height int
	tabs               string
	list               []string // each row of the list column, padded, with the separator
}

// wheelLines is how far one notch of the mouse wheel scrolls, as in bubbles' viewport.
const wheelLines = 3

// New returns a preview of files drawn with theme. Rendering waits for SetSize.
func New(files []render.DiffFile, theme tui.Theme) Model {
	m := Model{
		keys:     DefaultKeyMap(),
		files:    files,
		theme:    theme,
		r:        tui.New(theme),
		help:     help.New(),
		showHelp: true,
		mark:     -1,
		statLine: theme.DiffStat.Render(summary(files)),
		chrome:   chrome{cur: -1},
	}
	m.help.Styles = help.Styles{
		Ellipsis:       theme.HelpBar,
		ShortKey:       theme.HelpKey,
		ShortDesc:      theme.HelpBar,
		ShortSeparator: theme.HelpBar,
		FullKey:        theme.HelpKey,
		FullDesc:       theme.HelpBar,
		FullSeparator:  theme.HelpBar,
	}
	return m
}

// Init implements the bubbletea contract; the preview has no work to start.
func (m Model) Init() tea.Cmd { return nil }

// Keys are the preview's bindings for a help bar, one per action.
func (m Model) Keys() []key.Binding { return m.keys.ShortHelp() }

// KeyMap is the keys the preview answers to.
func (m Model) KeyMap() KeyMap { return m.keys }

// SetKeyMap changes the keys the preview answers to, say to free one the shell needs.
func (m *Model) SetKeyMap(k KeyMap) {
	m.keys = k
	m.resize(m.width, m.height)
}

// File is the index of the file the list highlights: the file at the top of the window,
// or the one tab or n last jumped to.
func (m Model) File() int { return m.cur }

// SetShowHelp chooses whether View ends with the preview's own help bar (on by default).
// Turn it off when the wizard shell draws its help from Keys.
func (m *Model) SetShowHelp(show bool) {
	m.showHelp = show
	m.resize(m.width, m.height)
}

// SetSize gives the preview w columns and h rows; View fills exactly that. The diff is
// wrapped again only when its width changes, and the reader stays in the same file near
// the same line. Calling it every frame with the same size costs nothing.
func (m *Model) SetSize(w, h int) {
	if w == m.width && h == m.height {
		return
	}
	m.resize(w, h)
}

func (m *Model) resize(w, h int) {
	if w <= 0 || h <= 0 {
		return
	}
	m.width, m.height = w, h
	m.help.SetWidth(w)
	// help cuts its line at the width only where an ellipsis still fits; cut the rest.
	m.helpLine = ansi.Truncate(m.help.ShortHelpView(m.keys.ShortHelp()), w, "")
	defer m.redraw()
	dw := m.diffWidth()
	if dw == m.body.width && m.body.lines != nil {
		m.scrollTo(m.off)
		return
	}
	old := m.body
	m.body = build(m.r, m.theme, m.files, dw)
	m.mark = -1
	if len(old.starts) > m.cur && len(m.body.starts) > m.cur {
		// Keep the same distance into the current file; wrapping changes it a little.
		into := min(m.off-old.starts[m.cur], m.fileLen(m.cur)-1)
		m.scrollTo(m.body.starts[m.cur] + max(into, 0))
	}
}

// Update handles window sizes (the whole message is the preview's size), keys and the
// mouse wheel.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	off := m.off
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.SetSize(msg.Width, msg.Height)
		return m, nil
	case tea.KeyPressMsg:
		if m.key(msg) {
			return m, nil
		}
	case tea.MouseWheelMsg:
		switch msg.Button {
		case tea.MouseWheelUp:
			m.scrollTo(m.off - wheelLines)
		case tea.MouseWheelDown:
			m.scrollTo(m.off + wheelLines)
		}
	}
	m.moved(off)
	return m, nil
}

// key handles a key press; it reports whether the key jumped (to a file or a hunk)
// rather than scrolled.
func (m *Model) key(msg tea.KeyPressMsg) (jumped bool) {
	k, page := m.keys, m.bodyHeight()
	switch {
	case key.Matches(msg, k.Up):
		m.scrollTo(m.off - 1)
	case key.Matches(msg, k.Down):
		m.scrollTo(m.off + 1)
	case key.Matches(msg, k.PageUp):
		m.scrollTo(m.off - page)
	case key.Matches(msg, k.PageDown):
		m.scrollTo(m.off + page)
	case key.Matches(msg, k.Top):
		m.scrollTo(0)
	case key.Matches(msg, k.Bottom):
		m.scrollTo(m.maxOff())
	case key.Matches(msg, k.NextFile):
		m.jumpFile(1)
		return true
	case key.Matches(msg, k.PrevFile):
		m.jumpFile(-1)
		return true
	case key.Matches(msg, k.NextHunk):
		m.jumpHunk(true)
		return true
	case key.Matches(msg, k.PrevHunk):
		m.jumpHunk(false)
		return true
	}
	return false
}

// maxOff is the last top line: past the end of the diff by as many blank lines as it
// takes for the last file to reach the top of the window when jumped to.
func (m *Model) maxOff() int {
	n := len(m.body.starts)
	if n == 0 {
		return 0
	}
	return max(len(m.body.lines)-m.bodyHeight(), m.body.starts[n-1], 0)
}

func (m *Model) scrollTo(off int) { m.off = min(max(off, 0), m.maxOff()) }

// moved follows a scroll: the list highlights the file at the top of the window. When
// the window did not move (at the top or bottom), the highlight stays where a jump put it.
func (m *Model) moved(from int) {
	if m.off != from {
		m.mark = -1
		m.cur = m.fileAt(m.off)
		m.redraw()
	}
}

// jumpFile moves to the next (by 1) or previous (by -1) file, round the ends.
func (m *Model) jumpFile(by int) {
	n := len(m.body.starts)
	if n == 0 {
		return
	}
	m.cur = ((m.cur+by)%n + n) % n
	m.mark = -1
	m.scrollTo(m.body.starts[m.cur])
	m.redraw()
}

// jumpHunk puts the next (or previous) "@@" line at the top of the window. Where the
// window cannot scroll that far, mark remembers the hunk so that the next n goes on.
func (m *Model) jumpHunk(next bool) {
	pos := m.off
	if m.mark >= 0 {
		pos = m.mark
	}
	h := m.body.hunks
	var i int
	if next {
		i = sort.SearchInts(h, pos+1)
	} else {
		i = sort.SearchInts(h, pos) - 1
	}
	if i < 0 || i >= len(h) {
		return
	}
	m.mark = h[i]
	m.cur = m.fileAt(h[i])
	m.scrollTo(h[i])
	m.redraw()
}

// fileAt is the index of the file that line belongs to (a blank line before a file
// belongs to the one above).
func (m *Model) fileAt(line int) int {
	s := m.body.starts
	return max(sort.Search(len(s), func(i int) bool { return s[i] > line })-1, 0)
}

// fileLen is the number of screen lines of file i, the blank line after it included.
func (m *Model) fileLen(i int) int {
	if i+1 < len(m.body.starts) {
		return m.body.starts[i+1] - m.body.starts[i]
	}
	return len(m.body.lines) - m.body.starts[i]
}

// PlainView is the review without a terminal UI: the whole diff as r draws it, for logs,
// pipes and TERM=dumb. Secret files are listed by path and mode only, as in the TUI.
func PlainView(files []render.DiffFile, r render.Renderer) string {
	return r.Diff(render.Diff{Files: files}, 0)
}

// width of s on screen.
func width(s string) int { return ansi.StringWidth(s) }
