// Package preflight is the wizard's first step: it reads the manifests and shows what is
// hardened already, check by check.
package preflight

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

// Step reads the manifests and shows what is hardened already, check by check.
type Step struct {
	loaded bool
	state  *discover.State
	checks []audit.Check
	err    error
}

// New returns the preflight step.
func New() *Step { return &Step{} }

type preflightDone struct {
	state  *discover.State
	checks []audit.Check
	err    error
}

var retryKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "read again"))

// Title implements step.Step.
func (p *Step) Title() string { return "Preflight" }

// Intro implements step.Step.
func (p *Step) Intro() string {
	return "Reads etcd.yaml and kube-apiserver.yaml and runs the CIS checks that files can answer."
}

// Init implements step.Step: it reads the node's manifests off the UI goroutine.
func (p *Step) Init(s *step.Session) tea.Cmd {
	layout := s.Layout
	return func() tea.Msg {
		st, err := discover.Load(layout)
		if err != nil {
			return preflightDone{err: err}
		}
		return preflightDone{state: st, checks: audit.Run(st, audit.Options{})}
	}
}

// Update implements step.Step.
func (p *Step) Update(s *step.Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case preflightDone:
		p.loaded, p.state, p.checks, p.err = true, msg.state, msg.checks, msg.err
		if msg.err != nil {
			return step.Fail(msg.err, fixText)
		}
		s.State, s.Checks = msg.state, msg.checks
	case tea.KeyPressMsg:
		if key.Matches(msg, retryKey) {
			p.loaded = false
			return p.Init(s)
		}
	}
	return nil
}

// View implements step.Step.
func (p *Step) View(f step.Frame) string {
	if !p.loaded {
		return "Reading the manifests…"
	}
	if p.err != nil {
		return f.R.Error(step.ErrorView(p.err, fixText), f.Width)
	}
	var b strings.Builder
	// The news first: how many checks fail, and which matter most, in words.
	headline := view.Headline(p.checks)
	if f.Width > 0 {
		headline = ansi.Wordwrap(headline, f.Width, "")
	}
	b.WriteString(headline + "\n")
	b.WriteString(f.R.Facts(stateFacts(p.state), f.Width))
	b.WriteString("\n")
	b.WriteString(f.R.Checks(view.Checks(p.checks), f.Width))
	return b.String()
}

// Ready implements step.Step: preflight may be left once the manifests were read.
func (p *Step) Ready() bool { return p.loaded && p.err == nil }

// Keys implements step.Step.
func (p *Step) Keys() []key.Binding { return []key.Binding{retryKey} }

func stateFacts(s *discover.State) []render.Fact {
	facts := []render.Fact{
		{Key: "root", Value: s.Layout.Root},
		{Key: "etcd manifest", Value: s.Etcd.Path},
	}
	if s.EtcdVersion != "" {
		facts = append(facts, render.Fact{Key: "etcd version", Value: s.EtcdVersion})
	}
	if s.APIServer != nil {
		facts = append(facts, render.Fact{Key: "kube-apiserver manifest", Value: s.APIServer.Path})
	} else {
		facts = append(facts, render.Fact{Key: "kube-apiserver manifest", Value: "not found"})
	}
	return facts
}

// fixText says what to do when the manifests cannot be read.
var fixText = "fix the file, or point --root / --manifests-dir at the right folder, then press " + retryKey.Help().Key
