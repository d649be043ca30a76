// Package step is the contract between the wizard's shell and its steps. A step is a
// small bubbletea model that draws by handing view data to a render.Renderer, so the
// same step runs in the terminal UI, in the plain driver and in tests.
package step

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/phased"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// Session is what the steps share: where the node's files are, what preflight found,
// the answers given so far, the Plan the steps add their changes to and what each step
// hands to the later ones.
type Session struct {
	Layout discover.Layout
	State  *discover.State
	Checks []audit.Check
	Plan   *plan.Plan
	// Answers prefill prompts by key (from --answers FILE or flags); a prompt whose
	// keys are all answered is not asked.
	Answers map[string]string
	// Etcd is how to reach etcd as the command line says (etcdctl's flags and ETCDCTL_*
	// variables; may be empty). Conn completes it from the manifests.
	Etcd etcdconn.Conn
	// ScanEtcd counts how etcd holds the values of resources (the status scan, through
	// the one connection check), so that planning keeps every key a value needs. Nil
	// when the run has no etcd to ask (step tests).
	ScanEtcd func(resources []string) (*encryption.StatusReport, error)
	// Lab is the sandbox the wizard runs against (etcd-harden lab); nil on a node.
	Lab Lab

	// What the steps hand to later steps; each is nil until its step has done it.

	// Bundle is the first node's cluster bundle (its etcd CA and encryption config), on
	// another node of a multi-member cluster, as preflight's question took it; nil on
	// the first node and on a single node.
	Bundle *harden.Bundle
	// Encryption is what the encryption step planned.
	Encryption *encryption.Result
	// Certs is what the certificates step planned.
	Certs *harden.CertsResult
	// Review is what the review step did with the plan.
	Review *ReviewResult
	// Backup is what the backup step did.
	Backup *BackupOutcome
	// Status is how etcd holds the values right after an apply; StatusErr is why they
	// could not be counted.
	Status    *encryption.StatusReport
	StatusErr error
	// Rollout is what the review step's apply did on a node of a multi-member cluster
	// (one or more phases, and what to run next where); RolloutPlan is the cluster plan
	// folder it saved (with the bundle the other nodes need). Nil on a single node.
	Rollout     *phased.Report
	RolloutPlan string

	// Order is the wizard's step names in order; planners run in this order.
	Order    []string
	planners map[string]Planner
}

// Conn is how to reach etcd now: each setting the command line gives wins, the rest
// comes from the manifests as the session last read them (State: read by preflight, and
// again after an apply, which changes them).
func (s *Session) Conn() (etcdconn.Conn, error) {
	return etcdconn.Resolve(s.Etcd, s.State)
}

// ReviewResult is what the review step did with the plan.
type ReviewResult struct {
	Action    string // the review step's action: apply, save or none
	BackupDir string // after apply
	SavedDir  string // after save
	Written   []plan.FileDiff
}

// BackupOutcome is what the backup step did.
type BackupOutcome struct {
	Skipped bool
	// Report is the passing test's report; nil when skipped.
	Report *snapshot.Report
	// ScheduleFiles are the schedule files written into the destination.
	ScheduleFiles []string
}

// Lab is the sandbox the wizard runs against, as the steps see it. It has no
// kube-apiserver, so it stands in for the rewrite of every Secret that kube-apiserver
// does once it restarts with a new encryption config.
type Lab interface {
	// Rewrite rewrites the stored Secrets through the encryption config now live, and
	// counts how etcd holds the values before and after.
	Rewrite(ctx context.Context) (before, after *encryption.StatusReport, err error)
	// RewriteNote says what Rewrite stood for; it is shown with the result.
	RewriteNote() string
}

// Planner adds one step's changes to a plan. It must give the same changes for the same
// answers (a generated key is made once, outside the planner), so the plan can be rebuilt.
type Planner func(p *plan.Plan) error

// SetPlanner records step name's planner (nil removes it) and rebuilds the Plan from
// scratch, running every step's planner in wizard order. Going back and changing an
// answer therefore leaves no trace of the old answer in the plan; a later step that
// edits the same file starts from the earlier step's result.
//
// When a planner fails, the step's planner is removed, the plan is rebuilt without it
// and the error returned: one failing step never blocks the others.
func (s *Session) SetPlanner(name string, fn Planner) error {
	if s.planners == nil {
		s.planners = map[string]Planner{}
	}
	if fn == nil {
		delete(s.planners, name)
	} else {
		s.planners[name] = fn
	}
	p, err := s.rebuild()
	if err != nil {
		delete(s.planners, name)
		if p, err2 := s.rebuild(); err2 == nil {
			s.Plan = p
		}
		return err
	}
	s.Plan = p
	return nil
}

func (s *Session) rebuild() (*plan.Plan, error) {
	p := plan.New(s.Layout.Root)
	for _, n := range s.Order {
		if f := s.planners[n]; f != nil {
			if err := f(p); err != nil {
				return nil, err
			}
		}
	}
	return p, nil
}

// HardenResult gathers what the steps planned into the form `plan --out` writes: the plan,
// the encryption and certificate results, and the CIS checks before and as the plan
// leaves them.
func (s *Session) HardenResult(now time.Time) (*harden.Result, error) {
	r := &harden.Result{State: s.State, Plan: s.Plan, Before: s.Checks, Now: now, Encryption: s.Encryption, Certs: s.Certs}
	planned, err := harden.PlannedState(s.Plan, s.State)
	if err != nil {
		return nil, fmt.Errorf("reading the planned manifests: %w", err)
	}
	r.Planned = planned
	if r.After, err = harden.AuditAfter(s.Plan, s.State); err != nil {
		return nil, fmt.Errorf("auditing the planned manifests: %w", err)
	}
	r.Steps = harden.RemainingSteps(r)
	return r, nil
}

// Answer returns the prefilled answer for key.
func (s *Session) Answer(key string) (string, bool) {
	v, ok := s.Answers[key]
	return v, ok
}

// Frame is what a step needs to draw itself.
type Frame struct {
	R      render.Renderer
	Width  int
	Height int
	// Dark tells steps with their own styles (huh forms) which theme to use.
	Dark bool
}

// Step is one screen of the wizard. Steps are pointer models: Update changes the step in
// place and returns a command for slow work, which runs off the UI goroutine.
type Step interface {
	// Title names the step in the header ("Preflight").
	Title() string
	// Intro says in one sentence what the step does.
	Intro() string
	// Init starts the step's work for the session.
	Init(s *Session) tea.Cmd
	// Update handles a message meant for the step.
	Update(s *Session, msg tea.Msg) tea.Cmd
	// View draws the step's body (the shell draws the header and the help bar).
	View(f Frame) string
	// Ready reports whether the user may move on to the next step.
	Ready() bool
	// Keys are the step's own key bindings, for the help bar.
	Keys() []key.Binding
}

// Scroller is implemented by steps that scroll their own body (the diff preview, forms);
// the shell scrolls every other step's body when it is taller than the window.
type Scroller interface {
	ScrollsItself() bool
}

// Capturer is a step that, while CapturesKeys is true (a form being filled in), gets
// every key but ctrl+c: the shell's own keys (enter, b, q) would otherwise steal them.
type Capturer interface {
	CapturesKeys() bool
}

// Canceler is a step with work that must stop cleanly when the wizard ends early (an
// apply rolls back, a snapshot removes its partial file). Cancel returns once it has.
type Canceler interface {
	Cancel()
}

// Prompter is a step that asks questions with a huh form. In the terminal UI the step
// runs the form as part of its own model; the plain driver instead runs Form accessibly
// (line prompts, readable by a screen reader) and then sends FormDone to the step.
type Prompter interface {
	// Form returns the questions still to ask, or nil when the answers are all known.
	Form(s *Session) *huh.Form
}

// Previewer is a Prompter with something to show before its questions in the plain
// driver (the review step's diff comes before "apply?").
type Previewer interface {
	Preview(f Frame) string
}

// FormDone tells a Prompter that the plain driver has run its form to the end.
type FormDone struct{}

// Runner is a step that needs the plain driver's input and output for work that is not
// a form (e.g. a confirmation before writing files).
type Runner interface {
	RunPlain(ctx context.Context, s *Session, in io.Reader, out io.Writer) error
}

// ErrorMsg carries an error to the shell's one error view.
type ErrorMsg struct{ Err render.Error }

// Fail returns a command that shows err in the shell's error view, with fix saying what
// to do about it.
func Fail(err error, fix string) tea.Cmd {
	return func() tea.Msg { return ErrorMsg{Err: ErrorView(err, fix)} }
}

// ErrorView turns an error into the one error view: what happened, to what, what to do.
func ErrorView(err error, fix string) render.Error {
	e := render.Error{What: err.Error(), Fix: fix}
	var parse *discover.ParseError
	var path *fs.PathError
	switch {
	case errors.As(err, &parse):
		e.Path = parse.Path
	case errors.As(err, &path):
		e.Path = path.Path
	}
	return e
}

// Def is one entry of the wizard's list of steps: the order of the wizard is data.
type Def struct {
	Name string
	New  func() Step
}

// FormTheme is huh's Charm theme for the terminal's background as the shell reported it,
// read from *dark each time the form draws. A step's form is often made after that
// report, so its fields never see the message themselves.
func FormTheme(dark *bool) huh.Theme {
	return huh.ThemeFunc(func(bool) *huh.Styles { return huh.ThemeCharm(*dark) })
}

// InShell readies a form a step runs inside the shell: its theme follows the terminal's
// background, and it draws no help of its own (the shell's help bar shows the step's
// Keys). A nil form stays nil.
func InShell(f *huh.Form, dark *bool) *huh.Form {
	if f == nil {
		return nil
	}
	return f.WithTheme(FormTheme(dark)).WithShowHelp(false)
}

// UpdateForm hands msg to a form a step runs inside its own model and returns the form
// as it now is; the caller looks at its State (completed, aborted) to act.
func UpdateForm(f *huh.Form, msg tea.Msg) (*huh.Form, tea.Cmd) {
	m, cmd := f.Update(msg)
	if next, ok := m.(*huh.Form); ok {
		f = next
	}
	return f, cmd
}

// AskWhen makes f ask in accessible mode only while cond holds. huh's accessible mode
// asks every field, even those of hidden groups (in the terminal UI the group's hide
// function does the job), so the plain driver would otherwise ask questions that do not
// apply and take the answers meant for the next ones.
func AskWhen(f huh.Field, cond func() bool) huh.Field {
	return when{Field: f, cond: cond}
}

type when struct {
	huh.Field
	cond func() bool
}

// RunAccessible asks the field only when cond holds.
func (w when) RunAccessible(out io.Writer, in io.Reader) error {
	if !w.cond() {
		return nil
	}
	return w.Field.RunAccessible(out, in)
}

// OrKept accepts an empty line while the answer already has a value: accessible mode
// validates the raw line, and an empty one keeps the value shown.
func OrKept(current *string, valid func(string) error) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" && *current != "" {
			return nil
		}
		return valid(v)
	}
}
