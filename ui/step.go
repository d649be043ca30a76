// Package ui is the wizard: a bubbletea v2 shell that runs an ordered list of steps,
// and a plain driver that runs the very same steps without a terminal UI. A step is a
// small model; it draws by handing view data to a render.Renderer, so the same step
// shows in the TUI, in plain text and in tests.
package ui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Session is what the steps share: where the node's files are, what preflight found and
// the Plan the steps add their changes to.
type Session struct {
	Layout discover.Layout
	State  *discover.State
	Checks []audit.Check
	Plan   *plan.Plan
}

// Frame is what a step needs to draw itself.
type Frame struct {
	R      render.Renderer
	Width  int
	Height int
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

// StepDef is one entry of the wizard's list of steps: the order of the wizard is data.
type StepDef struct {
	Name string
	New  func() Step
}

// ErrorMsg carries an error to the shell's one error view.
type ErrorMsg struct{ Err render.Error }

// DefaultSteps is the wizard's order of steps.
func DefaultSteps() []StepDef {
	return []StepDef{
		{Name: "preflight", New: func() Step { return NewPreflight() }},
	}
}
