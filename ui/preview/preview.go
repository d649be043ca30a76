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
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/tui"
)

// Model is the diff preview. It is a value, like the bubbles components: Update returns
// the new Model. Size it with SetSize (or a tea.WindowSizeMsg) to the space it has.
type Model struct {
	// KeyMap is the keys the preview answers to.
	KeyMap KeyMap

	files    []render.DiffFile
	theme    tui.Theme
	r        *tui.Renderer
	help     help.Model
	showHelp bool
	stat     string // the summary, e.g. "3 files · +18 −1 · 1 secret file hidden"

	width, height int
	body          content // the diff, rendered once per diff width
	vp            viewport.Model
	cur           int // the file the list highlights
	mark          int // line of the hunk n/N last jumped to, or -1
}

// content is every screen line of the diff at one width, with where files and hunks
// start, so that a frame only slices it.
type content struct {
	width  int
	lines  []string
	starts []int // first line of each file
	hunks  []int // line of each "@@" hunk header, ascending
}

// Default size until the first SetSize, so that View always draws something sensible.
const defaultWidth, defaultHeight = 80, 24

// New returns a preview of files drawn with theme, sized 80x24 until SetSize.
func New(files []render.DiffFile, theme tui.Theme) Model {
	m := Model{
		KeyMap:   DefaultKeyMap(),
		files:    files,
		theme:    theme,
		r:        tui.New(theme),
		help:     help.New(),
		showHelp: true,
		stat:     summary(files),
		mark:     -1,
		vp:       viewport.New(),
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
	m.SetSize(defaultWidth, defaultHeight)
	return m
}

// Init implements the bubbletea contract; the preview has no work to start.
func (m Model) Init() tea.Cmd { return nil }

// Keys are the preview's bindings for a help bar, one per action.
func (m Model) Keys() []key.Binding { return m.KeyMap.ShortHelp() }

// File is the index of the file the list highlights.
func (m Model) File() int { return m.cur }

// SetShowHelp chooses whether View ends with the preview's own help bar (on by default).
// Turn it off when the wizard shell draws its help from Keys.
func (m *Model) SetShowHelp(show bool) {
	m.showHelp = show
	m.SetSize(m.width, m.height)
}

// SetSize gives the preview w columns and h rows. The diff is wrapped again only when the
// width it gets changes; the reader stays in the same file, near the same line.
func (m *Model) SetSize(w, h int) {
	m.width, m.height = max(w, 1), max(h, 1)
	m.help.SetWidth(m.width)
	dw, off := m.diffWidth(), m.vp.YOffset()
	m.vp.SetWidth(dw)
	m.vp.SetHeight(m.bodyHeight())
	if dw == m.body.width && m.body.lines != nil {
		m.setContent()
		m.vp.SetYOffset(off)
		return
	}
	old := m.body
	m.body = build(m.r, m.theme, m.files, dw)
	m.setContent()
	m.mark = -1
	if len(old.starts) > m.cur && len(m.body.starts) > m.cur {
		// Keep the same distance into the current file; wrapping changes it a little.
		into := min(off-old.starts[m.cur], m.fileLen(m.cur)-1)
		m.vp.SetYOffset(m.body.starts[m.cur] + max(into, 0))
	}
}

// setContent hands the lines to the viewport with blank lines after the last file, as
// many as it takes for every file to reach the top of the window when jumped to.
func (m *Model) setContent() {
	lines := m.body.lines
	if n := len(m.body.starts); n > 0 {
		if pad := m.vp.Height() - m.fileLen(n-1); pad > 0 {
			lines = make([]string, len(m.body.lines), len(m.body.lines)+pad)
			copy(lines, m.body.lines)
			for range pad {
				lines = append(lines, "")
			}
		}
	}
	m.vp.SetContentLines(lines)
}

// Update handles window sizes (the whole message is the preview's size), keys and the
// mouse wheel.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.SetSize(msg.Width, msg.Height)
	case tea.KeyPressMsg:
		m.key(msg)
	case tea.MouseWheelMsg:
		off := m.vp.YOffset()
		m.vp, _ = m.vp.Update(msg)
		m.moved(off)
	}
	return m, nil
}

func (m *Model) key(msg tea.KeyPressMsg) {
	k, off := m.KeyMap, m.vp.YOffset()
	switch {
	case key.Matches(msg, k.Up):
		m.vp.ScrollUp(1)
	case key.Matches(msg, k.Down):
		m.vp.ScrollDown(1)
	case key.Matches(msg, k.PageUp):
		m.vp.PageUp()
	case key.Matches(msg, k.PageDown):
		m.vp.PageDown()
	case key.Matches(msg, k.Top):
		m.vp.GotoTop()
	case key.Matches(msg, k.Bottom):
		m.vp.GotoBottom()
	case key.Matches(msg, k.NextFile):
		m.jumpFile(1)
		return
	case key.Matches(msg, k.PrevFile):
		m.jumpFile(-1)
		return
	case key.Matches(msg, k.NextHunk):
		m.jumpHunk(true)
		return
	case key.Matches(msg, k.PrevHunk):
		m.jumpHunk(false)
		return
	default:
		return
	}
	m.moved(off)
}

// moved follows a scroll: the list highlights the file at the top of the window. When
// the window did not move (at the top or bottom), the highlight stays where a jump put it.
func (m *Model) moved(from int) {
	if off := m.vp.YOffset(); off != from {
		m.mark = -1
		m.cur = m.fileAt(off)
	}
}

// jumpFile moves to the next (by 1) or previous (by -1) file, round the ends.
func (m *Model) jumpFile(by int) {
	n := len(m.files)
	if n == 0 {
		return
	}
	m.cur = ((m.cur+by)%n + n) % n
	m.mark = -1
	m.vp.SetYOffset(m.body.starts[m.cur])
}

// jumpHunk puts the next (or previous) "@@" line at the top of the window. Near the end
// the window cannot scroll that far; mark remembers the hunk so the next n goes on.
func (m *Model) jumpHunk(next bool) {
	pos := m.vp.YOffset()
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
	m.vp.SetYOffset(h[i])
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
