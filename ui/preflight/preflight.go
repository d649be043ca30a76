// Package preflight is the wizard's first step: it reads the manifests and shows what is
// hardened already, check by check.
package preflight

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/cluster"
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
	// On a node of a cluster (clusterNamed): the question for the first node's bundle.
	step.Questions
	cluster  bool   // etcd.yaml names several members
	asks     bool   // the bundle was not answered in advance
	answered bool   // the bundle answer was taken (empty: the first node)
	checking bool   // the cluster is being asked whether a member serves TLS already
	bundle   string // the answer
}

// New returns the preflight step.
func New() *Step { return &Step{Questions: step.NewQuestions("cluster")} }

type preflightDone struct {
	state  *discover.State
	checks []audit.Check
	err    error
}

var (
	retryKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "read again"))
	editKey  = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "change the bundle"))
)

// Title implements step.Step.
func (p *Step) Title() string { return "Preflight" }

// Intro implements step.Step.
func (p *Step) Intro() string {
	return "Reads etcd.yaml and kube-apiserver.yaml and runs the CIS checks that files can answer."
}

// Init implements step.Step: it reads the node's manifests off the UI goroutine.
func (p *Step) Init(s *step.Session) tea.Cmd {
	p.Preset(s.Answers)
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
		return p.askBundle(s)
	case clusterChecked:
		return p.onClusterChecked(s, msg)
	case step.FormDone:
		p.Done()
		return p.takeBundle(s)
	case tea.KeyPressMsg:
		if p.Open() {
			break
		}
		if key.Matches(msg, retryKey) {
			p.loaded, p.answered = false, false
			p.ClearErr()
			return p.Init(s)
		}
		if p.answered && p.asks && key.Matches(msg, editKey) {
			return p.Start(p.bundleForm(""))
		}
		return nil
	}
	if p.Open() {
		return p.UpdateForm(msg, func() tea.Cmd { return p.takeBundle(s) })
	}
	return nil
}

// askBundle opens the cluster question on a node of a cluster, or takes the answer
// given in advance.
func (p *Step) askBundle(s *step.Session) tea.Cmd {
	p.cluster = clusterNamed(p.state)
	if !p.cluster {
		s.Bundle = nil
		return nil
	}
	given, ok := s.Answer(KeyBundle)
	p.asks = !ok
	if ok {
		p.bundle = given
		return p.takeBundle(s)
	}
	return p.Start(p.bundleForm(""))
}

// takeBundle reads the answered bundle, or shows why it cannot be used. Without one, it
// asks the cluster whether a member serves TLS already (off the UI goroutine): the node
// is then not the first, and is told so now rather than when the plan is applied.
func (p *Step) takeBundle(s *step.Session) tea.Cmd {
	if err := p.useBundle(s); err != nil {
		return p.refuseBundle(s, err, bundleFix)
	}
	if s.Bundle != nil {
		return nil
	}
	conn, err := s.Conn()
	if err != nil {
		return nil // no connection to ask through: the apply's own check stays
	}
	p.checking = true
	return func() tea.Msg {
		f := cluster.Several(context.Background(), conn)
		if f == nil {
			return clusterChecked{}
		}
		return clusterChecked{hasCA: f.HasCA()}
	}
}

// clusterChecked is what the cluster showed of a node given no bundle.
type clusterChecked struct{ hasCA *cluster.Member }

// onClusterChecked refuses an empty bundle answer when a member serves TLS already.
func (p *Step) onClusterChecked(s *step.Session, msg clusterChecked) tea.Cmd {
	p.checking = false
	if msg.hasCA == nil || s.Bundle != nil {
		return nil
	}
	return p.refuseBundle(s, BundleNeeded(msg.hasCA, s.Layout.Root),
		"copy the bundle/ folder of the first node's plan to this node, then press r and give it")
}

// refuseBundle shows why the bundle answer cannot be used. An answer the user typed is
// forgotten, so that r asks again; one given in advance is the answers file's to fix.
func (p *Step) refuseBundle(s *step.Session, err error, fix string) tea.Cmd {
	p.answered = false
	if p.asks {
		delete(s.Answers, KeyBundle)
	}
	return p.Fail(err, fix)
}

// bundleFix says what to do with a bundle that cannot be used.
const bundleFix = "give the bundle/ folder of the first node's plan, copied whole (with secrets/), or leave the answer empty on the first node; press r to ask again"

// Form implements step.Prompter: the cluster question, on a node of a cluster, when it
// was not answered in advance.
func (p *Step) Form(s *step.Session) *huh.Form {
	if !p.loaded || p.err != nil || p.answered {
		return nil
	}
	return p.bundleForm(p.situationText())
}

// CapturesKeys implements step.Capturer: the open form gets every key.
func (p *Step) CapturesKeys() bool { return p.Open() }

// ScrollsItself implements step.Scroller: a form keeps its own place.
func (p *Step) ScrollsItself() bool { return p.Open() }

// View implements step.Step.
func (p *Step) View(f step.Frame) string {
	p.SetDark(f.Dark)
	if !p.loaded {
		return "Reading the manifests…"
	}
	if p.err != nil {
		return f.R.Error(step.ErrorView(p.err, fixText), f.Width)
	}
	if p.Open() {
		return p.FormView()
	}
	var b strings.Builder
	// The news first: how many checks fail, and which matter most, in words.
	headline := view.Headline(p.checks)
	if f.Width > 0 {
		headline = ansi.Wordwrap(headline, f.Width, "")
	}
	b.WriteString(headline + "\n")
	b.WriteString(f.R.Facts(append(stateFacts(p.state), p.bundleFacts()...), f.Width))
	b.WriteString("\n")
	b.WriteString(f.R.Checks(view.Checks(p.checks), f.Width))
	return b.String()
}

// Ready implements step.Step: preflight may be left once the manifests were read.
func (p *Step) Ready() bool {
	return p.loaded && p.err == nil && (!p.cluster || p.answered && !p.checking && p.Err() == nil) && !p.Open()
}

// Keys implements step.Step.
func (p *Step) Keys() []key.Binding {
	switch {
	case p.Open():
		return p.FormKeys()
	case p.answered && p.asks:
		return []key.Binding{retryKey, editKey}
	}
	return []key.Binding{retryKey}
}

// bundleFacts says, on a node of a cluster, which bundle the plan uses.
func (p *Step) bundleFacts() []render.Fact {
	switch {
	case !p.cluster || !p.answered:
		return nil
	case p.checking:
		return []render.Fact{{Key: "cluster bundle", Value: "none; asking the cluster whether a member serves TLS already…"}}
	case strings.TrimSpace(p.bundle) == "":
		return []render.Fact{{Key: "cluster bundle", Value: "none: this is the first node; its plan makes the bundle for the others"}}
	}
	return []render.Fact{{Key: "cluster bundle", Value: strings.TrimSpace(p.bundle) + " (the first node's etcd CA and encryption config)"}}
}

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
