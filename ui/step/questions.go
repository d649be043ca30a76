package step

import (
	"errors"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/etcd-harden/etcd-harden/render"
)

// Questions is the form plumbing a step that asks questions (a Prompter) embeds, as
// each huh field keeps its own state behind one small contract: the answers given
// before the step started (not asked again), the form the terminal UI runs inside the
// step, the terminal's background for the form's theme, and the step's error with what
// to do about it.
type Questions struct {
	topic  string             // names the questions when they are left unfinished
	preset map[string]bool    // answer keys given before the step started
	form   *huh.Form          // the terminal UI's form while it is being filled in
	size   *tea.WindowSizeMsg // the last size the form was given
	dark   bool               // the terminal's background, for the form's theme
	err    error
	fix    string
}

// NewQuestions returns the plumbing of a step whose questions are about topic
// ("certificate"), on a dark terminal until the shell says otherwise.
func NewQuestions(topic string) Questions { return Questions{topic: topic, dark: true} }

// Preset records the answers given before the step started: they are not asked.
func (q *Questions) Preset(answers map[string]string) {
	q.preset = map[string]bool{}
	for k := range answers {
		q.preset[k] = true
	}
}

// Asks returns which answer keys a form asks: those not preset, or every one when all
// (the user asked to edit the answers).
func (q *Questions) Asks(all bool) func(key string) bool {
	return func(k string) bool { return all || !q.preset[k] }
}

// Start opens f inside the step (see InShell) and returns its first command; a nil f
// (nothing to ask) opens nothing.
func (q *Questions) Start(f *huh.Form) tea.Cmd {
	if q.form = InShell(f, &q.dark); q.form == nil {
		return nil
	}
	return q.form.Init()
}

// Open reports whether a form is open: the step then gets every key and keeps its own
// place.
func (q *Questions) Open() bool { return q.form != nil }

// Done closes the form: the plain driver ran the step's form itself (FormDone).
func (q *Questions) Done() { q.form = nil }

// UpdateForm hands msg to the open form. Completed, the form closes and done's command
// runs; aborted, it closes and the step fails, the questions not finished.
func (q *Questions) UpdateForm(msg tea.Msg, done func() tea.Cmd) tea.Cmd {
	if size, ok := msg.(tea.WindowSizeMsg); ok {
		q.size = &size
	}
	var cmd tea.Cmd
	q.form, cmd = UpdateForm(q.form, msg)
	// huh lays its fields out again only when the size changes: a description that follows
	// the choice (the provider's guidance) and grows a line would push the chosen row out
	// of the field on a narrow terminal. The same size again lays it out anew.
	if _, ok := msg.(tea.KeyPressMsg); ok && q.size != nil && q.form.State == huh.StateNormal {
		q.form, _ = UpdateForm(q.form, *q.size)
	}
	switch q.form.State {
	case huh.StateCompleted:
		q.form = nil
		return tea.Batch(cmd, done())
	case huh.StateAborted:
		q.form = nil
		return q.Fail(errors.New("the "+q.topic+" questions were not finished"), "press e to answer them")
	}
	return cmd
}

// SetDark follows the terminal's background, as the frame reports it, in the form's
// theme.
func (q *Questions) SetDark(dark bool) { q.dark = dark }

// FormView draws the open form.
func (q *Questions) FormView() string { return q.form.View() }

// FormKeys are the open form's key bindings, for the help bar.
func (q *Questions) FormKeys() []key.Binding { return q.form.KeyBinds() }

// Fail records err and what to do about it (fix), and shows them in the shell's error
// view.
func (q *Questions) Fail(err error, fix string) tea.Cmd {
	q.err, q.fix = err, fix
	return Fail(err, fix)
}

// Err is the step's error, nil when there is none.
func (q *Questions) Err() error { return q.err }

// ClearErr forgets the error, before the step plans again.
func (q *Questions) ClearErr() { q.err = nil }

// ErrorView is the step's error in the one error view.
func (q *Questions) ErrorView() render.Error { return ErrorView(q.err, q.fix) }

// Groups builds a step's form one group of questions at a time.
type Groups struct {
	// Intro is the situation written out for the accessible form, which the plain
	// driver shows with no view before it; empty for the terminal UI's form.
	Intro  string
	groups []*huh.Group
}

// Add adds a group of fields, hidden while hide reports true (nil: always shown). huh's
// accessible mode asks every field, so each is asked only while its group shows.
func (g *Groups) Add(hide func() bool, fields ...huh.Field) {
	if hide == nil {
		hide = func() bool { return false }
	}
	for i, f := range fields {
		fields[i] = AskWhen(f, func() bool { return !hide() })
	}
	g.groups = append(g.groups, huh.NewGroup(fields...).WithHideFunc(hide))
}

// Titled returns an input's title, naming value as the default in the accessible form,
// which shows an input's title only.
func (g *Groups) Titled(title, value string) string {
	if g.Intro != "" && value != "" {
		return title + " [" + value + "]"
	}
	return title
}

// Form returns the form, or nil when there is nothing to ask. The accessible one starts
// with a note titled title that holds Intro.
func (g *Groups) Form(title string) *huh.Form {
	if len(g.groups) == 0 {
		return nil
	}
	if g.Intro == "" {
		return huh.NewForm(g.groups...)
	}
	groups := append([]*huh.Group{huh.NewGroup(huh.NewNote().Title(title).Description(g.Intro))}, g.groups...)
	// ThemeBase writes no escape codes in accessible mode.
	return huh.NewForm(groups...).WithTheme(huh.ThemeFunc(huh.ThemeBase))
}
