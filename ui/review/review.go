// Package review is the wizard's diff preview: every change of the plan as a coloured
// unified diff, then a choice: apply it, save it as a patch, go back, or quit. Nothing is
// written before this step.
package review

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/preview"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Answer keys of this step.
const (
	// AnswerAction is what to do with the plan: apply, save or none.
	AnswerAction = "review.action"
	// AnswerDir is where "save" writes the patch and review (default ./etcd-harden-plan).
	AnswerDir = "review.dir"
)

// defaultDir is where "save" writes when no folder is given.
const defaultDir = "etcd-harden-plan"

// Actions the step can take with the plan.
const (
	ActionApply = "apply"
	ActionSave  = "save"
	ActionNone  = "none"
)

// Apply writes the plan under root with backups and a health check; it returns the
// backup folder. progress gets one line per phase.
type Apply func(ctx context.Context, s *step.Session, progress func(string)) (backupDir string, err error)

// Save writes the plan as a reviewed patch into dir.
type Save func(s *step.Session, dir string) error

// Step is the diff preview and its choices.
type Step struct {
	apply Apply
	save  Save

	files   []render.DiffFile
	diffs   []plan.FileDiff
	preview preview.Model
	dark    bool
	sized   bool

	previewWidth, previewHeight int

	form    *huh.Form
	action  string
	confirm bool   // the answer to "Apply …?"
	askDir  bool   // the plain driver asked for the action, so RunPlain asks for the folder
	choice  string // the plain driver's typed answer to "What now?"
	dir     string
	running bool
	started time.Time
	phase   string
	spin    spinner.Model
	cancel  context.CancelFunc
	stopped chan struct{} // closed when a running apply has finished or rolled back
	result  *step.ReviewResult
	err     error
}

// New returns the review step; apply and save do the writing.
func New(apply Apply, save Save) *Step {
	return &Step{apply: apply, save: save, spin: spinner.New(spinner.WithSpinner(spinner.Dot)), dark: true}
}

var (
	applyKey = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "apply"))
	saveKey  = key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "save as patch"))
)

// Title implements step.Step.
func (m *Step) Title() string { return "Review" }

// Intro implements step.Step.
func (m *Step) Intro() string {
	return "Every change, before anything is written. Apply it here, or save it as a patch to review and commit."
}

// Init implements step.Step: it takes the plan as the earlier steps left it.
func (m *Step) Init(s *step.Session) tea.Cmd {
	m.diffs = s.Plan.FileDiffs()
	m.files = DiffFiles(m.diffs)
	m.preview = preview.New(m.files, tui.ThemeFor(m.dark))
	m.preview.SetShowHelp(false)
	m.result, m.err, m.running, m.form = nil, nil, false, nil
	if v, ok := s.Answer(AnswerDir); ok {
		m.dir = v
	}
	// A prefilled action is for scripted (plain) runs, which act in RunPlain after the
	// diff is printed; in the terminal UI the user chooses with the diff in front of them.
	if v, ok := s.Answer(AnswerAction); ok {
		m.action = v
	}
	return nil
}

// DiffFiles turns the plan's per-file diffs into the renderer's view data.
func DiffFiles(ds []plan.FileDiff) []render.DiffFile {
	out := make([]render.DiffFile, len(ds))
	for i, d := range ds {
		out[i] = render.DiffFile{Path: d.Path, Mode: fmt.Sprintf("%04o", d.Mode.Perm()), New: d.New, Secret: d.Secret,
			Added: d.Added, Removed: d.Removed, Text: d.Text}
	}
	return out
}

type progressMsg struct {
	line string
	next tea.Cmd // waits for the line after this one
}

type doneMsg struct {
	result *step.ReviewResult
	err    error
}

// act starts what the chosen action does, off the UI goroutine.
func (m *Step) act(s *step.Session) tea.Cmd {
	if err := checkAction(m.action); err != nil {
		return step.Fail(err, "press a to apply the plan or s to save it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel, m.running, m.started, m.phase = cancel, true, time.Now(), "starting"
	lines := make(chan string, 16)
	done := make(chan doneMsg, 1)
	m.stopped = make(chan struct{})
	go func() {
		defer close(m.stopped)
		d := m.run(ctx, s, func(l string) {
			select {
			case lines <- l:
			default: // the screen only needs the latest phase
			}
		})
		close(lines)
		done <- d
	}()
	return tea.Batch(m.spin.Tick, waitProgress(lines, done))
}

func checkAction(a string) error {
	switch a {
	case ActionApply, ActionSave, ActionNone:
		return nil
	}
	return fmt.Errorf("unknown %s %q: answer %s, %s or %s", AnswerAction, a, ActionApply, ActionSave, ActionNone)
}

// run does the chosen action and waits for it. After an apply the session's state is
// read again from the node, so later steps see the hardened manifests.
func (m *Step) run(ctx context.Context, s *step.Session, progress func(string)) doneMsg {
	res := &step.ReviewResult{Action: m.action, Written: m.diffs}
	switch m.action {
	case ActionSave:
		dir := m.dir
		if dir == "" {
			dir = defaultDir
		}
		res.SavedDir, _ = filepath.Abs(dir)
		return doneMsg{result: res, err: m.save(s, dir)}
	case ActionApply:
		backup, err := m.apply(ctx, s, progress)
		if err != nil {
			return doneMsg{err: err}
		}
		res.BackupDir = backup
		st, err := discover.Load(s.Layout)
		if err != nil {
			return doneMsg{err: fmt.Errorf("the plan was applied, but reading the manifests again failed: %w", err)}
		}
		s.State = st
		return doneMsg{result: res}
	}
	res.Written = nil
	return doneMsg{result: res}
}

// waitProgress delivers the next progress line, then the result once the lines end.
func waitProgress(lines <-chan string, done <-chan doneMsg) tea.Cmd {
	var wait tea.Cmd
	wait = func() tea.Msg {
		if l, ok := <-lines; ok {
			return progressMsg{line: l, next: wait}
		}
		return <-done
	}
	return wait
}

// Update implements step.Step.
func (m *Step) Update(s *step.Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.preview = preview.New(m.files, tui.ThemeFor(m.dark))
		m.preview.SetShowHelp(false)
		m.sized = false
		return nil
	case progressMsg:
		m.phase = msg.line
		return msg.next
	case doneMsg:
		m.running = false
		if msg.err != nil {
			m.err = msg.err
			return step.Fail(msg.err, failFix(m.action))
		}
		m.result = msg.result
		s.Review = m.result
		return nil
	case spinner.TickMsg:
		if !m.running {
			return nil
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return cmd
	case step.FormDone:
		// The plain driver acts through RunPlain, after printing the diff.
		if m.askDir {
			m.action, _ = plainChoice(m.choice)
		}
		return nil
	}
	if m.form != nil {
		var cmd tea.Cmd
		m.form, cmd = step.UpdateForm(m.form, msg)
		switch m.form.State {
		case huh.StateCompleted:
			m.form = nil
			if m.action == ActionApply && !m.confirm {
				m.action = "" // "Not now": back to the diff, nothing written
				return cmd
			}
			return tea.Batch(cmd, m.act(s))
		case huh.StateAborted:
			m.form = nil
		}
		return cmd
	}
	if m.running || m.result != nil {
		return nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(k, applyKey) && len(m.diffs) > 0:
			m.action = ActionApply
			m.form = m.confirmForm(s)
			return m.form.Init()
		case key.Matches(k, saveKey) && len(m.diffs) > 0:
			m.action = ActionSave
			m.form = m.dirForm()
			return m.form.Init()
		}
	}
	var cmd tea.Cmd
	m.preview, cmd = m.preview.Update(msg)
	return cmd
}

// failFix says what to do after the action failed. What was written and put back is
// the error's to say: a stale plan is refused before anything is written.
func failFix(action string) string {
	if action == ActionSave {
		return "choose another folder: press s again (or a to apply the plan here)"
	}
	return "fix the cause named above, then press a to apply again, or s to save the plan instead"
}

func (m *Step) confirmForm(s *step.Session) *huh.Form {
	m.confirm = false
	return step.InShell(huh.NewForm(huh.NewGroup(huh.NewConfirm().
		Title(fmt.Sprintf("Apply %d file changes under %s?", len(m.diffs), s.Layout.Root)).
		Description("Backups are kept outside the manifests folder. etcd restarts with the new flags;\nif it does not answer over TLS in time, every file is put back.").
		Affirmative("Apply").Negative("Not now").Value(&m.confirm))), &m.dark)
}

func (m *Step) dirForm() *huh.Form {
	if m.dir == "" {
		m.dir = defaultDir
	}
	return step.InShell(huh.NewForm(huh.NewGroup(huh.NewInput().Key(AnswerDir).
		Title("Save the plan into which folder?").
		Description("changes.patch, REVIEW.md, kubeadm-patch.yaml; keys under secrets/ (git-ignored)").
		Value(&m.dir))), &m.dark)
}

// Form implements step.Prompter: the plain driver asks what to do with the plan. The
// choice has no default: an act that writes is never taken on Enter, and end of input
// aborts the run (step.Ask). The folder for "save" is asked by RunPlain: huh's
// accessible mode asks every group, even a hidden one, which would take the next answer
// on piped input.
func (m *Step) Form(s *step.Session) *huh.Form {
	if m.action != "" || len(m.diffs) == 0 {
		return nil
	}
	m.askDir, m.choice = true, ""
	lines := make([]string, len(plainChoices))
	for i, c := range plainChoices {
		lines[i] = fmt.Sprintf("%d. %s", i+1, c.label)
	}
	return huh.NewForm(huh.NewGroup(
		huh.NewNote().Title("What now?").Description(strings.Join(lines, "\n")),
		huh.NewInput().Key(AnswerAction).Title(fmt.Sprintf("Enter a number between 1 and %d:", len(plainChoices))).
			Validate(func(v string) error { _, err := plainChoice(v); return err }).Value(&m.choice),
	))
}

// plainChoices are the plain driver's answers to "What now?", in the order shown.
var plainChoices = []struct{ label, action string }{
	{"Apply it now (backups, health check, rollback)", ActionApply},
	{"Save it as a patch to review", ActionSave},
	{"Neither: leave the node as it is", ActionNone},
}

// plainChoice reads a typed answer to "What now?": its number or its action's name.
func plainChoice(v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	for i, c := range plainChoices {
		if v == fmt.Sprint(i+1) || v == c.action {
			return c.action, nil
		}
	}
	return "", fmt.Errorf("type 1, 2 or 3: nothing is applied or saved until you say which (--yes applies without asking)")
}

// askFolder asks where to save the plan, as a line prompt on in.
func (m *Step) askFolder(ctx context.Context, in io.Reader, out io.Writer) error {
	if m.dir == "" {
		m.dir = defaultDir
	}
	err := step.Ask(ctx, huh.NewForm(huh.NewGroup(huh.NewInput().Key(AnswerDir).Title("Save into which folder?").Value(&m.dir))), in, out)
	if err != nil {
		return fmt.Errorf("asking for the plan's folder: %w", err)
	}
	return nil
}

// RunPlain implements step.Runner: once the plain driver has printed the diff and the
// choice is known, it does the action here, a line per phase.
func (m *Step) RunPlain(ctx context.Context, s *step.Session, in io.Reader, out io.Writer) error {
	if m.result != nil || len(m.diffs) == 0 {
		return nil
	}
	if err := checkAction(m.action); err != nil {
		return err
	}
	if _, known := s.Answer(AnswerDir); m.action == ActionSave && m.askDir && !known && in != nil {
		if err := m.askFolder(ctx, in, out); err != nil {
			return err
		}
	}
	last := ""
	d := m.run(ctx, s, func(l string) {
		if l != last {
			fmt.Fprintln(out, m.action+": "+l)
			last = l
		}
	})
	if d.err != nil {
		m.err = d.err
		return d.err
	}
	m.result = d.result
	s.Review = m.result
	return nil
}

// Preview implements step.Previewer: the whole diff, before the plain driver asks.
func (m *Step) Preview(f step.Frame) string {
	if len(m.diffs) == 0 {
		return m.View(f)
	}
	return preview.PlainView(m.files, f.R)
}

// View implements step.Step.
func (m *Step) View(f step.Frame) string {
	var b strings.Builder
	switch {
	case len(m.diffs) == 0:
		return "Nothing to change: the earlier steps found this node hardened already."
	case m.result != nil:
		return m.resultView(f)
	case m.running:
		line := fmt.Sprintf("%s Applying… %s (%s)", m.spin.View(), m.phase, time.Since(m.started).Round(time.Second))
		if f.Width > 0 {
			line = ansi.Truncate(line, f.Width, "…")
		}
		b.WriteString(line + "\n")
		return b.String()
	case m.form != nil:
		return m.form.View()
	}
	if f.Height == 0 {
		// Plain output, before a choice was made: the whole diff once.
		return m.Preview(f)
	}
	if !m.sized || f.Width != m.previewWidth || f.Height != m.previewHeight {
		m.preview.SetSize(f.Width, f.Height)
		m.previewWidth, m.previewHeight, m.sized = f.Width, f.Height, true
	}
	return m.preview.View()
}

func (m *Step) resultView(f step.Frame) string {
	switch m.result.Action {
	case ActionApply:
		return f.R.Facts([]render.Fact{
			{Key: "applied", Value: fmt.Sprintf("%d files", len(m.result.Written))},
			{Key: "backup", Value: m.result.BackupDir},
			{Key: "undo", Value: "etcd-harden rollback " + m.result.BackupDir},
		}, f.Width)
	case ActionSave:
		return f.R.Facts([]render.Fact{
			{Key: "saved", Value: m.result.SavedDir},
			{Key: "apply later", Value: "etcd-harden apply --plan " + m.result.SavedDir},
		}, f.Width)
	}
	return "Nothing was written."
}

// Cancel implements step.Canceler: it stops a running apply, which puts the files back
// from the backup, and returns once that is done, so quitting never leaves a half-applied
// node.
func (m *Step) Cancel() {
	if m.cancel != nil {
		m.cancel()
	}
	if m.stopped != nil {
		<-m.stopped
	}
}

// Ready implements step.Step: the user may go on once the plan was applied, saved or
// deliberately left alone, or when there is nothing to change.
func (m *Step) Ready() bool { return len(m.diffs) == 0 || (m.result != nil && !m.running) }

// Keys implements step.Step.
func (m *Step) Keys() []key.Binding {
	if m.form != nil {
		return m.form.KeyBinds() // the question's keys, not the preview's
	}
	if m.result != nil || m.running || len(m.diffs) == 0 {
		return nil
	}
	return append(m.preview.Keys(), applyKey, saveKey)
}

// ScrollsItself implements step.Scroller: the preview scrolls the diff.
func (m *Step) ScrollsItself() bool { return m.form == nil && m.result == nil }

// CapturesKeys implements step.Capturer while a question is open.
func (m *Step) CapturesKeys() bool { return m.form != nil }
