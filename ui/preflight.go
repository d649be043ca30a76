package ui

import (
	"errors"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// Preflight reads the manifests and shows what is hardened already, check by check.
type Preflight struct {
	loaded bool
	state  *discover.State
	checks []audit.Check
	err    error
}

// NewPreflight returns the preflight step.
func NewPreflight() *Preflight { return &Preflight{} }

type preflightDone struct {
	state  *discover.State
	checks []audit.Check
	err    error
}

var retryKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "read again"))

// Title implements Step.
func (p *Preflight) Title() string { return "Preflight" }

// Intro implements Step.
func (p *Preflight) Intro() string {
	return "Reads etcd.yaml and kube-apiserver.yaml and runs the CIS checks that files can answer."
}

// Init implements Step: it reads the node's manifests off the UI goroutine.
func (p *Preflight) Init(s *Session) tea.Cmd {
	layout := s.Layout
	return func() tea.Msg {
		st, err := discover.Load(layout)
		if err != nil {
			return preflightDone{err: err}
		}
		return preflightDone{state: st, checks: audit.Run(st, audit.Options{})}
	}
}

// Update implements Step.
func (p *Preflight) Update(s *Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case preflightDone:
		p.loaded, p.state, p.checks, p.err = true, msg.state, msg.checks, msg.err
		if msg.err != nil {
			return func() tea.Msg { return ErrorMsg{Err: preflightError(msg.err)} }
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

// View implements Step.
func (p *Preflight) View(f Frame) string {
	if !p.loaded {
		return "Reading the manifests…"
	}
	if p.err != nil {
		return f.R.Error(preflightError(p.err), f.Width)
	}
	var b strings.Builder
	b.WriteString(f.R.Facts(stateFacts(p.state), f.Width))
	b.WriteString("\n")
	b.WriteString(f.R.Checks(RenderChecks(p.checks), f.Width))
	return b.String()
}

// Ready implements Step: preflight may be left once the manifests were read.
func (p *Preflight) Ready() bool { return p.loaded && p.err == nil }

// Keys implements Step.
func (p *Preflight) Keys() []key.Binding { return []key.Binding{retryKey} }

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

// RenderChecks turns audit checks into the renderer's check list.
func RenderChecks(cs []audit.Check) []render.Check {
	out := make([]render.Check, len(cs))
	for i, c := range cs {
		out[i] = render.Check{ID: c.ID, Title: c.Title, Status: render.Status(c.Status), Detail: c.Detail, Fix: c.Fix}
	}
	return out
}

// preflightError says what to do when the manifests cannot be read.
func preflightError(err error) render.Error {
	return errorView(err, "fix the file, or point --root / --manifests-dir at the right folder, then press "+retryKey.Help().Key)
}

// errorView turns an error into the one error view: what happened, to what, what to do.
func errorView(err error, fix string) render.Error {
	e := render.Error{What: err.Error(), Fix: fix}
	var pe interface{ Path() string }
	if errors.As(err, &pe) {
		e.Path = pe.Path()
	}
	return e
}
