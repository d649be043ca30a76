package ui

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// ErrAborted is returned when the user quits the wizard before it is done.
var ErrAborted = errors.New("aborted by the user")

// Theme gives the shell a renderer and help styles for a dark or light terminal.
type Theme func(isDark bool) (render.Renderer, help.Styles)

type shellKeys struct {
	Next, Back, Quit, Yes, No, Dismiss key.Binding
	Up, Down, PageUp, PageDown         key.Binding
}

var keys = shellKeys{
	Next:     key.NewBinding(key.WithKeys("enter", "right"), key.WithHelp("enter", "next")),
	Back:     key.NewBinding(key.WithKeys("left", "b"), key.WithHelp("←/b", "back")),
	Quit:     key.NewBinding(key.WithKeys("ctrl+c", "q", "esc"), key.WithHelp("q", "quit")),
	Yes:      key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "yes, quit")),
	No:       key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n", "no, stay")),
	Dismiss:  key.NewBinding(key.WithKeys("esc", "enter"), key.WithHelp("esc", "dismiss")),
	Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
	Down:     key.NewBinding(key.WithKeys("down", "j")),
	PageUp:   key.NewBinding(key.WithKeys("pgup")),
	PageDown: key.NewBinding(key.WithKeys("pgdown", "space")),
}

// Shell is the wizard's root model: it runs the steps in order, shows progress, moves
// back and forward, confirms before quitting and shows errors in one error view.
type Shell struct {
	session *step.Session
	defs    []step.Def
	steps   []step.Step // made when first visited; kept so going back keeps the answers
	current int

	theme    Theme
	renderer render.Renderer
	help     help.Model

	width, height int
	scroll        int // first body line shown, for steps the shell scrolls
	bodyLines     int // lines of the last body drawn
	confirmQuit   bool
	brief         bool // the training scenario's brief is shown
	briefOpens    int  // how often it was opened: its redraw tick belongs to the last
	err           *render.Error
	aborted       bool
	finished      bool
}

// NewShell returns the wizard for the session with the given steps.
func NewShell(s *step.Session, defs []step.Def, theme Theme) *Shell {
	sh := &Shell{session: s, defs: defs, steps: make([]step.Step, len(defs)), theme: theme, help: help.New()}
	sh.setDark(true)
	return sh
}

func (m *Shell) setDark(dark bool) {
	var styles help.Styles
	m.renderer, styles = m.theme(dark)
	m.help.Styles = styles
}

// Init implements tea.Model.
func (m *Shell) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.enter(0))
}

// enter makes step i current, creating it on first visit.
func (m *Shell) enter(i int) tea.Cmd {
	m.current = i
	if m.steps[i] != nil {
		return nil
	}
	m.steps[i] = m.defs[i].New()
	return m.steps[i].Init(m.session)
}

// Update implements tea.Model.
func (m *Shell) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		return m, m.step().Update(m.session, msg)
	case tea.BackgroundColorMsg:
		m.setDark(msg.IsDark())
		var cmds []tea.Cmd
		for _, st := range m.steps {
			if st != nil {
				cmds = append(cmds, st.Update(m.session, msg))
			}
		}
		return m, tea.Batch(cmds...)
	case step.ErrorMsg:
		m.err = &msg.Err
		return m, nil
	case tea.KeyPressMsg:
		return m, m.key(msg)
	case briefTickMsg:
		if m.brief && msg.open == m.briefOpens {
			return m, briefTick(msg.open) // the view reads the brief afresh
		}
		return m, nil
	}
	return m, m.step().Update(m.session, msg)
}

func (m *Shell) step() step.Step { return m.steps[m.current] }

// captures reports whether the step takes every key but ctrl+c (a form being filled in).
func (m *Shell) captures() bool {
	c, ok := m.step().(step.Capturer)
	return ok && c.CapturesKeys()
}

func (m *Shell) shellScrolls() bool {
	sc, ok := m.step().(step.Scroller)
	return !ok || !sc.ScrollsItself()
}

// scrollKey moves the body of a step the shell scrolls; it reports whether msg was a
// scroll key.
func (m *Shell) scrollKey(msg tea.KeyPressMsg) bool {
	page := max(m.bodyHeight()-1, 1)
	switch {
	case key.Matches(msg, keys.Up):
		m.scroll--
	case key.Matches(msg, keys.Down):
		m.scroll++
	case key.Matches(msg, keys.PageUp):
		m.scroll -= page
	case key.Matches(msg, keys.PageDown):
		m.scroll += page
	default:
		return false
	}
	m.scroll = max(min(m.scroll, m.bodyLines-m.bodyHeight()), 0)
	return true
}

func (m *Shell) key(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case m.confirmQuit:
		switch {
		case key.Matches(msg, keys.Yes), msg.String() == "ctrl+c":
			m.aborted = true
			return tea.Quit
		case key.Matches(msg, keys.No):
			m.confirmQuit = false
		}
		return nil
	case msg.String() == "ctrl+c":
		m.confirmQuit = true
		return nil
	case m.tooSmall():
		// The screen cannot be seen: no key may answer for it (enter would take a
		// default unseen). Only quitting works.
		if key.Matches(msg, keys.Quit) {
			m.confirmQuit = true
		}
		return nil
	case m.err != nil:
		if key.Matches(msg, keys.Dismiss) {
			m.err = nil
			return nil
		}
		if key.Matches(msg, keys.Quit) {
			m.confirmQuit = true
			return nil
		}
		return m.step().Update(m.session, msg)
	case m.brief:
		m.brief = !key.Matches(msg, keys.Quit, keys.Dismiss, briefKey)
		return nil
	case m.captures():
		return m.step().Update(m.session, msg)
	case key.Matches(msg, briefKey):
		if _, ok := m.briefBinding(); ok {
			m.brief, m.scroll = true, 0
			m.briefOpens++
			return briefTick(m.briefOpens)
		}
	case key.Matches(msg, keys.Quit):
		m.confirmQuit = true
		return nil
	case key.Matches(msg, keys.Next) && m.step().Ready():
		if m.current == len(m.steps)-1 {
			m.finished = true
			return tea.Quit
		}
		m.scroll = 0
		return m.enter(m.current + 1)
	case key.Matches(msg, keys.Back) && m.current > 0:
		m.current--
		m.scroll = 0
		return nil
	case m.shellScrolls() && m.scrollKey(msg):
		return nil
	}
	return m.step().Update(m.session, msg)
}

// View implements tea.Model.
func (m *Shell) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "etcd-harden · " + m.step().Title()
	return v
}

func (m *Shell) render() string {
	if m.tooSmall() {
		return m.smallView()
	}
	s := m.step()
	header := m.headerText()
	var body string
	switch {
	case m.confirmQuit:
		body = m.renderer.Error(render.Error{What: "Quit the wizard?", Fix: "Nothing has been written. Press y to quit, n to stay."}, m.width)
	case m.err != nil:
		body = m.renderer.Error(*m.err, m.width)
	case m.brief:
		body = m.briefView()
	default:
		body = s.View(step.Frame{R: m.renderer, Width: m.width, Height: m.bodyHeight()})
	}
	lines := strings.Split(strings.TrimRight(body, "\n"), "\n")
	m.bodyLines = len(lines)
	if h := m.bodyHeight(); h > 0 {
		// The body gets the rows between the header and the help bar; longer bodies scroll.
		if m.shellScrolls() && !m.confirmQuit && m.err == nil {
			from := max(min(m.scroll, len(lines)-h), 0)
			lines = lines[from:]
		}
		if len(lines) > h {
			lines = lines[:h]
		}
		for len(lines) < h {
			lines = append(lines, "")
		}
	}
	return header + "\n" + strings.Join(lines, "\n") + "\n" + m.help.ShortHelpView(m.bindings())
}

// Size floor of the wizard's screens. Narrower than minWidth, the help bar and the
// form options are cut off; a step the shell scrolls needs minBodyRows to be read.
const (
	minWidth    = 60
	minBodyRows = 6
)

// need returns the terminal size the current screen needs: minWidth columns, and rows
// for the header, the help bar and the body: all of the body for a step that scrolls
// itself (a form, which the shell would otherwise cut off at the bottom), minBodyRows for
// a step the shell scrolls. Header and body are measured at the width the screen will
// have once it is wide enough.
func (m *Shell) need() (w, h int) {
	width := max(m.width, minWidth)
	header := lipgloss.Height(m.renderer.Header(m.headerData(), width))
	rows := minBodyRows
	if !m.shellScrolls() && !m.confirmQuit && m.err == nil {
		body := m.step().View(step.Frame{R: m.renderer, Width: width, Height: max(m.height-header-1, 1)})
		rows = max(rows, lipgloss.Height(strings.TrimRight(body, "\n")))
	}
	return minWidth, header + rows + 1
}

// tooSmall reports whether the window is smaller than the current screen needs. Before
// the first size message the size is unknown, and nothing counts as too small.
func (m *Shell) tooSmall() bool {
	if m.width == 0 && m.height == 0 {
		return false
	}
	w, h := m.need()
	return m.width < w || m.height < h
}

// smallView replaces the screen while the window is too small for it: what is wrong,
// the size needed, and the only keys that work.
func (m *Shell) smallView() string {
	w, h := m.need()
	text := fmt.Sprintf("Terminal too small (%dx%d, needs %dx%d). Make it bigger, or press q to quit.", m.width, m.height, w, h)
	if m.confirmQuit {
		text = "Quit the wizard? Nothing has been written. Press y to quit, n to stay."
	}
	lines := strings.Split(ansi.Wordwrap(text, max(m.width, 1), ""), "\n")
	if len(lines) > m.height {
		lines = lines[:max(m.height, 1)]
	}
	return strings.Join(lines, "\n")
}

// bodyHeight is the rows left for the step's body: the window less the header (title
// and intro), the blank line under it and the help bar.
func (m *Shell) bodyHeight() int {
	if m.height == 0 {
		return 0
	}
	return max(m.height-lipgloss.Height(m.headerText())-1, 1)
}

func (m *Shell) headerText() string { return m.renderer.Header(m.headerData(), m.width) }

func (m *Shell) headerData() render.Header {
	s := m.step()
	return render.Header{Step: m.current + 1, Of: len(m.defs), Title: s.Title(), Intro: s.Intro()}
}

// bindings are the keys that work right now, for the help bar.
func (m *Shell) bindings() []key.Binding {
	if m.confirmQuit {
		return []key.Binding{keys.Yes, keys.No}
	}
	if m.err != nil {
		return append([]key.Binding{keys.Dismiss}, append(m.step().Keys(), keys.Quit)...)
	}
	if m.brief {
		return []key.Binding{key.NewBinding(key.WithKeys("?"), key.WithHelp("?/esc", "close the brief"))}
	}
	bs := append([]key.Binding{}, m.step().Keys()...)
	if b, ok := m.briefBinding(); ok && !m.captures() {
		bs = append(bs, b)
	}
	if m.captures() {
		return append(bs, key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")))
	}
	if m.shellScrolls() && m.bodyLines > m.bodyHeight() {
		bs = append(bs, keys.Up)
	}
	if m.step().Ready() {
		next := keys.Next
		if m.current == len(m.defs)-1 {
			next.SetHelp("enter", "finish")
		}
		bs = append(bs, next)
	}
	if m.current > 0 {
		bs = append(bs, keys.Back)
	}
	return append(bs, keys.Quit)
}

// Cancel stops the work of every step that has some running, and waits for each to
// clean up. Run calls it when the program ends.
func (m *Shell) Cancel() {
	for _, st := range m.steps {
		if c, ok := st.(step.Canceler); ok {
			c.Cancel()
		}
	}
}

// Aborted reports whether the user quit before the end.
func (m *Shell) Aborted() bool { return m.aborted }
