// Package backup is the wizard's backup step: it asks where snapshots go and which
// schedule to suggest, takes a test snapshot of etcd over the connection the session
// resolves (flags, else the manifests), verifies it (sha256 trailer, bbolt, status, a
// restore rehearsal) and shows each check with its timing, the snapshot's facts and the
// schedule files to copy.
//
// In the terminal UI the step fills its form and runs the test as a tea.Cmd with a
// progress bar. Work that only the terminal UI may start (focusing the form, starting the
// test with prefilled answers) begins on the first tea.WindowSizeMsg, which Init asks the
// program for: the plain driver never sends one, and runs the test in RunPlain instead,
// with its context (Ctrl-C) and progress lines every 10 %.
//
// A running test stops when the user presses c, when its timeout passes, or when Cancel
// is called: the shell should call Cancel on a step that has it when the program ends
// (quit), so that the half-written .part file is removed.
package backup

import (
	"context"
	"errors"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Name is the step's name in the wizard's order.
const Name = "backup"

// Options tune the step; the zero value is what the wizard uses.
type Options struct {
	// Timeout bounds the test (snapshot.DefaultTimeout when 0).
	Timeout time.Duration
	// Name is the test snapshot's name (snapshot.DefaultName(now) when "").
	Name string
}

type phase int

const (
	phaseAsking  phase = iota // the form is (to be) filled in
	phaseWaiting              // answers known, test not started
	phaseRunning
	phaseDone // report or error known
	phaseSkipped
)

// Step is the backup step.
type Step struct {
	opts  Options
	phase phase
	ans   answers

	form        *huh.Form
	formStarted bool

	runID  int
	cancel context.CancelFunc
	// finished is closed when the running test has stopped and cleaned up.
	finished <-chan struct{}
	wait     tea.Cmd
	prog     snapshot.Progress
	bar      progress.Model
	spin     spinner.Model

	conn   etcdconn.Conn
	report *snapshot.Report
	// off is the report of an offsite or sealed run, shown as the commands show it, and
	// store the S3 destination (nil for a folder).
	off   *offsite.Report
	store *offsite.Store
	err   error
}

var (
	cancelKey = key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "cancel test"))
	retryKey  = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "test again"))
	editKey   = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "change answers"))
	skipKey   = key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "skip"))
)

// New returns the backup step as the wizard uses it.
func New() *Step { return NewWithOptions(Options{}) }

// NewWithOptions returns the backup step with o.
func NewWithOptions(o Options) *Step {
	return &Step{
		opts: o,
		bar:  progress.New(progress.WithWidth(40), progress.WithoutPercentage()),
		spin: spinner.New(spinner.WithSpinner(spinner.MiniDot)),
	}
}

// Def is the step's entry in the wizard's list.
func Def() step.Def { return step.Def{Name: Name, New: func() step.Step { return New() }} }

// Title implements step.Step.
func (p *Step) Title() string { return "Backup" }

// Intro implements step.Step.
func (p *Step) Intro() string {
	return "Takes a test snapshot of etcd, proves it holds the member's data, and suggests a schedule."
}

// Init implements step.Step: it reads the prefilled answers and asks the program for its
// size, whose answer starts the terminal UI's work (see the package doc).
func (p *Step) Init(s *step.Session) tea.Cmd {
	a, err := readAnswers(s)
	p.ans = a
	if err != nil {
		p.phase, p.err = phaseDone, err
		return step.Fail(err, "fix the answer in the answers file or on the command line")
	}
	switch {
	case a.skip:
		p.skip(s)
		return nil
	case a.complete():
		p.phase = phaseWaiting
	default:
		p.phase = phaseAsking
		p.form = p.ans.form(false)
	}
	return tea.RequestWindowSize
}

// Update implements step.Step.
func (p *Step) Update(s *step.Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case progressMsg:
		if msg.id != p.runID || p.phase != phaseRunning {
			return nil
		}
		p.prog = msg.p
		return p.wait
	case doneMsg:
		if msg.id != p.runID {
			return nil
		}
		return p.finish(s, msg)
	case spinner.TickMsg:
		if p.phase != phaseRunning {
			return nil
		}
		var cmd tea.Cmd
		p.spin, cmd = p.spin.Update(msg)
		return cmd
	case step.FormDone:
		return p.formDone(s)
	}
	if p.phase == phaseAsking && p.form != nil {
		return p.updateForm(s, msg)
	}
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		if p.phase == phaseWaiting {
			return p.start(s)
		}
	case tea.KeyPressMsg:
		return p.key(s, msg)
	}
	return nil
}

// updateForm feeds msg to the form; a completed form starts the test.
func (p *Step) updateForm(s *step.Session, msg tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		p.form = p.form.WithWidth(ws.Width)
		if !p.formStarted {
			p.formStarted = true
			cmds = append(cmds, p.form.Init())
		}
	}
	var cmd tea.Cmd
	p.form, cmd = step.UpdateForm(p.form, msg)
	cmds = append(cmds, cmd)
	if p.form.State == huh.StateCompleted {
		cmds = append(cmds, p.formDone(s))
	}
	return tea.Batch(cmds...)
}

// formDone settles the answers once a form is through. In the terminal UI the test
// starts now; the plain driver runs it in RunPlain.
func (p *Step) formDone(s *step.Session) tea.Cmd {
	if p.phase != phaseAsking {
		return nil
	}
	tui := p.form != nil && p.form.State == huh.StateCompleted
	p.form = nil
	if err := p.ans.settle(); err != nil {
		p.phase, p.err = phaseDone, err
		return step.Fail(err, "answer again (e)")
	}
	p.phase = phaseWaiting
	if tui {
		return p.start(s)
	}
	return nil
}

func (p *Step) key(s *step.Session, msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case p.phase == phaseRunning && key.Matches(msg, cancelKey):
		p.Cancel()
	case p.phase == phaseDone && key.Matches(msg, retryKey) && p.ans.complete(),
		p.phase == phaseSkipped && key.Matches(msg, retryKey) && p.ans.complete() && !p.ans.skip:
		return p.start(s)
	case (p.phase == phaseDone || p.phase == phaseSkipped) && key.Matches(msg, editKey):
		p.ans.skip = false
		p.form = p.ans.form(true)
		p.phase, p.formStarted = phaseAsking, true
		return p.form.Init()
	case p.phase == phaseDone && p.err != nil && key.Matches(msg, skipKey):
		p.skip(s)
	}
	return nil
}

func (p *Step) skip(s *step.Session) {
	p.phase = phaseSkipped
	p.report, p.off, p.err = nil, nil, nil
	s.Backup = &step.BackupOutcome{Skipped: true}
}

// finish records the end of a run; a failure goes to the shell's error view too.
func (p *Step) finish(s *step.Session, d doneMsg) tea.Cmd {
	p.phase, p.cancel = phaseDone, nil
	p.report, p.off, p.err = d.report, d.off, d.err
	if d.err != nil {
		s.Backup = nil
		e := p.errorView()
		return func() tea.Msg { return step.ErrorMsg{Err: e} }
	}
	written := d.report.ScheduleWritten
	if d.off != nil && d.off.Schedule != nil {
		written = d.off.Schedule.Written
	}
	s.Backup = &step.BackupOutcome{Report: d.report, ScheduleFiles: written}
	return nil
}

// Cancel stops a running test: the snapshot's .part file is removed and the step shows
// the test as stopped. It does nothing when no test runs.
func (p *Step) Cancel() {
	if p.cancel != nil {
		p.cancel()
	}
	if p.finished != nil {
		<-p.finished
	}
}

// Ready implements step.Step: after a passing test, or when skipped.
func (p *Step) Ready() bool {
	return p.phase == phaseSkipped || (p.phase == phaseDone && p.err == nil && p.report != nil)
}

// CapturesKeys implements step.Capturer: the form gets every key while it is filled in,
// and the step while a test runs, so that the shell cannot move away from it (the shell
// routes messages to the current step only; the test's would be lost). Ctrl-C still
// reaches the shell.
func (p *Step) CapturesKeys() bool {
	return p.phase == phaseRunning || (p.phase == phaseAsking && p.form != nil && p.form.State == huh.StateNormal)
}

// Form implements step.Prompter: the questions whose answers were not prefilled.
func (p *Step) Form(*step.Session) *huh.Form {
	if p.phase != phaseAsking {
		return nil
	}
	return p.ans.form(false)
}

// Keys implements step.Step.
func (p *Step) Keys() []key.Binding {
	switch p.phase {
	case phaseRunning:
		return []key.Binding{cancelKey}
	case phaseDone:
		if p.err != nil {
			if !p.ans.complete() {
				return []key.Binding{editKey, skipKey}
			}
			return []key.Binding{retryKey, editKey, skipKey}
		}
		return []key.Binding{retryKey, editKey}
	case phaseSkipped:
		if p.ans.complete() && !p.ans.skip {
			return []key.Binding{retryKey, editKey}
		}
		return []key.Binding{editKey}
	case phaseAsking:
		if p.form != nil {
			return p.form.KeyBinds()
		}
	}
	return nil
}

// Err is the error that stopped the last test, nil when it passed or has not run.
func (p *Step) Err() error { return p.err }

// Report is the last test's report, nil before a test ran.
func (p *Step) Report() *snapshot.Report { return p.report }

// errorKind sorts an error for its view: what the Path is and what to do.
func (p *Step) errorKind() (path, fix string) {
	const again = "then test again (r in the wizard, or run it again); or skip this step (s in the wizard, or " + KeySkip + ": true in an answers file)"
	switch {
	case errors.Is(p.err, snapshot.ErrDestination):
		return p.ans.dest, "fix the folder or choose another one (e), " + again
	case errors.Is(p.err, snapshot.ErrCorrupt):
		path := ""
		if p.report != nil && p.report.Verification != nil {
			path = p.report.Verification.CorruptPath
		}
		return path, "the snapshot was moved aside; check the disk and etcd's health, " + again
	case errors.Is(p.err, context.Canceled):
		return p.conn.Endpoint(), "the test was cancelled and its partial file removed; " + again
	case errors.Is(p.err, snapshot.ErrTimedOut):
		return p.conn.Endpoint(), "etcd answered too slowly; try again when it is less busy, " + again
	}
	var conn *etcdconn.Error
	if errors.As(p.err, &conn) {
		return conn.Endpoint, "change what the message names, " + again
	}
	if ep := p.conn.Endpoint(); ep != "" && strings.Contains(p.err.Error(), ep) {
		return ep, "check that etcd runs and that --endpoints, --cacert, --cert and --key (or the manifests) are right, " + again
	}
	return "", "fix what the error names, " + again
}
