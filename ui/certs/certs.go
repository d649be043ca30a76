// Package certs is the wizard's certificates step: it finds and checks the etcd CA and
// the server, peer and client pairs, asks whether to use them or generate what is
// missing, and plans the files and the manifest edits with steps/certs, showing the
// checks as the plan will leave them.
package certs

import (
	"errors"
	"fmt"
	"net"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	dcerts "github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Name is the step's name in the wizard's order and in Session.SetPlanner.
const Name = "certs"

// Def is the step's entry in the wizard's list of steps.
func Def() step.Def { return step.Def{Name: Name, New: func() step.Step { return New() }} }

// Step checks, chooses and plans the etcd certificates.
type Step struct {
	now    func() time.Time
	layout discover.Layout
	state  *discover.State

	loaded bool
	found  []dcerts.Pair  // as Discover found them
	checks []dcerts.Check // the current pairs as they are on disk

	step.Questions // the form, the answers given in advance, the error

	a       answers
	working bool // generating keys and certificates

	// The form's "change a path?" question.
	pathPair, pathCert, pathKey string

	made    *generated     // the material made for one answer set
	planned []dcerts.Check // the checks as the plan leaves them (or the failing ones)
	ok      bool           // the plan passed every check and is in the session
}

// New returns the certificates step.
func New() *Step { return &Step{now: time.Now, Questions: step.NewQuestions("certificate")} }

type discovered struct {
	pairs  []dcerts.Pair
	checks []dcerts.Check
	err    error
}

// generated is what one answer set made: kept so that replanning adds the same keys
// and certificates instead of making new ones.
type generated struct {
	id    string
	certs *harden.CertFiles
	err   error
}

// generatedNow is what Generate made for the answers planned, or nil.
func (p *Step) generatedNow() *dcerts.Generated {
	if p.made == nil {
		return nil
	}
	return p.made.certs.Generated
}

var editKey = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit answers"))

// Title implements step.Step.
func (p *Step) Title() string { return "Certificates" }

// Intro implements step.Step.
func (p *Step) Intro() string {
	return "Checks the etcd CA and the server, peer and client certificates, and plans mutual TLS with what is there or generated."
}

// Init implements step.Step: it finds and checks the certificates off the UI goroutine.
func (p *Step) Init(s *step.Session) tea.Cmd {
	p.layout, p.state = s.Layout, s.State
	p.Preset(s.Answers)
	state, now := s.State, p.now()
	return func() tea.Msg {
		if state == nil || state.Etcd == nil {
			return discovered{err: errors.New("etcd.yaml was not read, so the certificates cannot be found")}
		}
		pairs := dcerts.Discover(state)
		return discovered{pairs: pairs, checks: dcerts.Validate(state, pairs, now)}
	}
}

// Update implements step.Step.
func (p *Step) Update(s *step.Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case discovered:
		return p.onDiscovered(s, msg)
	case *generated:
		return p.onGenerated(s, msg)
	case step.FormDone:
		p.Done()
		return p.generate(s)
	case tea.KeyPressMsg:
		if !p.Open() && p.editable() && key.Matches(msg, editKey) {
			return p.Start(p.formFor(p.Asks(true), ""))
		}
	}
	if p.Open() {
		return p.UpdateForm(msg, func() tea.Cmd { return p.generate(s) })
	}
	return nil
}

func (p *Step) onDiscovered(s *step.Session, msg discovered) tea.Cmd {
	p.loaded = true
	if msg.err != nil {
		return p.Fail(msg.err, "go back to preflight and fix the manifest it names, then come back")
	}
	p.found, p.checks = msg.pairs, msg.checks
	p.defaults(s.State)
	if err := p.a.prefill(s.Answers); err != nil {
		return p.Fail(err, "correct the answer in the answers file or flag (see the allowed values above)")
	}
	cmd := p.Start(p.formFor(p.Asks(false), ""))
	if !p.Open() {
		return p.generate(s)
	}
	return cmd
}

// defaults are the answers offered first: auto, ECDSA, and the node name and advertise
// IP of etcd.yaml.
func (p *Step) defaults(st *discover.State) {
	p.a = answers{mode: harden.CertsAuto, keyType: dcerts.ECDSAP256}
	p.a.nodeName, _ = st.Etcd.Flag("name")
	p.a.advertiseIP = advertiseIP(st.Etcd)
}

// advertiseIP is the first IP of the advertised URLs, a non-loopback one first, as
// Generate picks it.
func advertiseIP(m *discover.Manifest) string {
	for _, flag := range []string{"advertise-client-urls", "initial-advertise-peer-urls"} {
		v, _ := m.Flag(flag)
		loop := ""
		for _, h := range dcerts.URLHosts(v) {
			ip := net.ParseIP(h)
			switch {
			case ip == nil:
			case ip.IsLoopback():
				if loop == "" {
					loop = h
				}
			default:
				return h
			}
		}
		if loop != "" {
			return loop
		}
	}
	return ""
}

// Form implements step.Prompter: the questions whose answers were not given, with the
// situation written out first for the plain driver.
func (p *Step) Form(s *step.Session) *huh.Form {
	if !p.loaded || p.found == nil {
		return nil
	}
	return p.formFor(p.Asks(false), p.situationText())
}

// current returns the pairs found, with the paths the user chose.
func (p *Step) current() []dcerts.Pair {
	pairs := make([]dcerts.Pair, len(p.found))
	copy(pairs, p.found)
	for _, n := range dcerts.PairNames() {
		if c := p.a.paths[n]; c != nil {
			dcerts.Choose(p.state, pairs, n, c.cert, c.key)
		}
	}
	return pairs
}

// generate checks the chosen files and makes what the mode asks for, once per answer
// set, off the UI goroutine; onGenerated then plans.
func (p *Step) generate(s *step.Session) tea.Cmd {
	p.takePath()
	p.ClearErr()
	p.ok, p.planned = false, nil
	id := p.id(s)
	if p.made != nil && p.made.id == id && p.made.err == nil {
		return p.plan(s)
	}
	p.working = true
	st, pairs := s.State, p.current()
	// On a cluster's other nodes, the first node's bundle: its CA signs this node's pairs.
	o := harden.Options{Certs: p.a.mode, KeyType: p.a.keyType, NodeName: p.a.nodeName, AdvertiseIP: p.a.advertiseIP, Now: p.now(), Bundle: s.Bundle}
	return func() tea.Msg {
		c, err := harden.MakeCerts(st, pairs, o)
		return &generated{id: id, certs: c, err: err}
	}
}

func (p *Step) onGenerated(s *step.Session, g *generated) tea.Cmd {
	p.working = false
	if g.id != p.id(s) {
		return nil // the answers changed while it ran
	}
	p.made, p.checks = g, g.certs.Before
	if g.err != nil {
		return p.Fail(g.err, generateFix(g.err))
	}
	return p.plan(s)
}

// plan sets the step's planner: the generated files, the manifest edits and the file
// modes the checks ask for, as `plan` plans them. Checks that fail, on disk in mode
// existing or as the plan leaves the files, are shown instead of an error.
func (p *Step) plan(s *step.Session) tea.Cmd {
	made := p.made.certs
	var res *harden.CertsResult
	err := s.SetPlanner(Name, func(pl *plan.Plan) (err error) {
		res, err = made.PlanWithModes(pl, s.State, s.Checks)
		return err
	})
	var failing *harden.CheckError
	switch {
	case errors.As(err, &failing):
		p.planned = failing.Checks
		return nil
	case err != nil:
		return p.Fail(err, "press e to change the answers, or fix the file named above")
	}
	p.planned, p.ok = res.After, true
	s.Certs = res
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	p.a.record(s.Answers)
	return nil
}

// id names the answer set and the cluster bundle: generated material is made once per id.
func (p *Step) id(s *step.Session) string {
	if s.Bundle == nil {
		return p.a.id()
	}
	return p.a.id() + "|bundle=" + s.Bundle.Dir
}

func generateFix(err error) string {
	switch {
	case errors.Is(err, dcerts.ErrCAKeyMissing):
		return "press e and point the CA's key at its file, or choose generate to make a new etcd CA (every etcd certificate is then issued again)"
	case errors.Is(err, dcerts.ErrCAUnusable):
		return "press e and choose generate to make a new etcd CA, or point the CA at a working one"
	}
	return "press e to change the answers"
}

// editable reports whether the answers can be asked again.
func (p *Step) editable() bool {
	return p.loaded && p.found != nil && !p.working && (p.ok || p.Err() != nil || p.planned != nil)
}

// CapturesKeys implements step.Capturer: the form gets every key while it is open.
func (p *Step) CapturesKeys() bool { return p.Open() }

// ScrollsItself implements step.Scroller: a form keeps its own place; the checks are
// scrolled by the shell.
func (p *Step) ScrollsItself() bool { return p.Open() }

// Ready implements step.Step: the plan was made and leaves no check failing.
func (p *Step) Ready() bool { return p.ok && p.Err() == nil && !p.Open() && !p.working }

// Keys implements step.Step.
func (p *Step) Keys() []key.Binding {
	switch {
	case p.Open():
		return p.FormKeys()
	case p.editable():
		return []key.Binding{editKey}
	}
	return nil
}

// node returns a host path under the root as the node sees it.
func (p *Step) node(host string) string {
	if host == "" {
		return ""
	}
	return "/" + p.layout.Rel(host)
}

// failures counts the failing checks.
func failures(checks []dcerts.Check) int {
	n := 0
	for _, c := range checks {
		if c.Status == dcerts.Fail {
			n++
		}
	}
	return n
}

func plural(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}
