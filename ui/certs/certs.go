// Package certs is the wizard's certificates step: it finds and checks the etcd CA and
// the server, peer and client pairs, asks whether to use them or generate what is
// missing, and plans the files and the manifest edits with steps/certs, showing the
// checks as the plan will leave them.
package certs

import (
	"errors"
	"fmt"
	"net"
	"strings"
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

	a       answers
	preset  map[string]bool // answers given before the step started: not asked
	form    *huh.Form       // the terminal UI's form while it is being filled in
	dark    bool            // the terminal's background, for the form's theme
	working bool            // generating keys and certificates

	// The form's "change a path?" question.
	pathPair, pathCert, pathKey string

	made    *generated     // the material made for one answer set
	planned []dcerts.Check // ValidatePlan: the checks as the plan leaves them
	ok      bool           // the plan passed every check and is in the session
	err     error
	fix     string
}

// New returns the certificates step.
func New() *Step { return &Step{now: time.Now, dark: true} }

type discovered struct {
	pairs  []dcerts.Pair
	checks []dcerts.Check
	err    error
}

// generated is what one answer set made: kept so that replanning copies the same keys
// and certificates instead of making new ones.
type generated struct {
	id      string
	at      time.Time
	pairs   []dcerts.Pair  // the pairs as the plan leaves them
	checks  []dcerts.Check // the chosen pairs as they are on disk
	gen     *dcerts.Generated
	changes []*plan.Change
	err     error
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
	p.preset = map[string]bool{}
	for k := range s.Answers {
		p.preset[k] = true
	}
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
		p.form = nil
		return p.generate(s)
	case tea.KeyPressMsg:
		if p.form != nil {
			return p.updateForm(s, msg)
		}
		if p.editable() && key.Matches(msg, editKey) {
			if p.form = p.tuiForm(true); p.form != nil {
				return p.form.Init()
			}
		}
		return nil
	}
	if p.form != nil {
		return p.updateForm(s, msg)
	}
	return nil
}

func (p *Step) onDiscovered(s *step.Session, msg discovered) tea.Cmd {
	p.loaded = true
	if msg.err != nil {
		return p.fail(msg.err, "go back to preflight and fix the manifest it names, then come back")
	}
	p.found, p.checks = msg.pairs, msg.checks
	p.defaults(s.State)
	if err := p.a.prefill(s.Answers); err != nil {
		return p.fail(err, "correct the answer in the answers file or flag (see the allowed values above)")
	}
	p.form = p.tuiForm(false)
	if p.form == nil {
		return p.generate(s)
	}
	return p.form.Init()
}

// defaults are the answers offered first: auto, ECDSA, and the node name and advertise
// IP of etcd.yaml.
func (p *Step) defaults(st *discover.State) {
	p.a = answers{mode: ModeAuto, keyType: dcerts.ECDSAP256}
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
	return p.formFor(func(k string) bool { return !p.preset[k] }, p.situationText())
}

// tuiForm is the form the terminal UI runs inside the step; all is true when the user
// asked to edit every answer.
func (p *Step) tuiForm(all bool) *huh.Form {
	return step.InShell(p.formFor(func(k string) bool { return all || !p.preset[k] }, ""), &p.dark)
}

func (p *Step) updateForm(s *step.Session, msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	p.form, cmd = step.UpdateForm(p.form, msg)
	switch p.form.State {
	case huh.StateCompleted:
		p.form = nil
		return tea.Batch(cmd, p.generate(s))
	case huh.StateAborted:
		p.form = nil
		return p.fail(errors.New("the certificate questions were not finished"), "press e to answer them")
	}
	return cmd
}

// current returns the pairs found, with the paths the user chose.
func (p *Step) current() []dcerts.Pair {
	pairs := make([]dcerts.Pair, len(p.found))
	copy(pairs, p.found)
	for _, n := range pairNames {
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
	p.err, p.ok, p.planned = nil, false, nil
	id := p.a.id()
	if p.made != nil && p.made.id == id && p.made.err == nil {
		return p.plan(s)
	}
	p.working = true
	a, st, root, at := p.a, s.State, s.Layout.Root, p.now()
	pairs := p.current()
	return func() tea.Msg {
		g := &generated{id: id, at: at, pairs: pairs, checks: dcerts.Validate(st, pairs, at)}
		if a.mode == ModeExisting {
			return g
		}
		scratch := plan.New(root)
		o := dcerts.GenOptions{NodeName: a.nodeName, AdvertiseIP: a.advertiseIP, KeyType: a.keyType, Now: at}
		if a.mode == ModeGenerate {
			o.Renew = []string{dcerts.PairServer, dcerts.PairPeer, dcerts.PairHealthcheck, dcerts.PairAPIServer}
			o.ReplaceCA = dcerts.CAUnusable(pairs, g.checks)
		}
		g.gen, g.err = dcerts.Generate(scratch, st, pairs, o)
		if g.err == nil {
			g.pairs, g.changes = g.gen.Pairs, scratch.Changes
		}
		return g
	}
}

// caUnusable reports whether the etcd CA cannot sign: a check of it fails, or its key
// is not there (only a warning while nothing needs signing).

func (p *Step) onGenerated(s *step.Session, g *generated) tea.Cmd {
	p.working = false
	if g.id != p.a.id() {
		return nil // the answers changed while it ran
	}
	p.made, p.checks = g, g.checks
	if g.err != nil {
		return p.fail(g.err, generateFix(g.err))
	}
	return p.plan(s)
}

// plan sets the step's planner: the generated files, copied with the same bytes, and the
// manifest edits; then it checks the pairs as the plan leaves them.
func (p *Step) plan(s *step.Session) tea.Cmd {
	g := p.made
	if p.a.mode == ModeExisting && dcerts.Failed(g.checks) {
		p.planned = g.checks
		_ = s.SetPlanner(Name, nil)
		return nil
	}
	certsPlanner := func(pl *plan.Plan) error {
		for _, c := range g.changes {
			if err := pl.Create(c.Path, c.New, c.Mode, c.DirMode, c.Secret, strings.Join(c.Reasons, "; ")); err != nil {
				return err
			}
		}
		return dcerts.PlanManifests(pl, s.State, g.pairs)
	}
	if err := s.SetPlanner(Name, certsPlanner); err != nil {
		// A failing planner must not stay registered: every later rebuild would fail.
		_ = s.SetPlanner(Name, nil)
		return p.fail(err, "press e to change the answers, or fix the file named above")
	}
	p.planned = dcerts.ValidatePlan(s.Plan, s.State, g.pairs, g.at)
	if dcerts.Failed(p.planned) {
		_ = s.SetPlanner(Name, nil)
		return nil
	}
	// The file modes the checks ask for (keys and manifests 0600, the data dir 0700),
	// planned as `plan` plans them, after the files this step writes.
	planned := p.planned
	if err := s.SetPlanner(Name, func(pl *plan.Plan) error {
		if err := certsPlanner(pl); err != nil {
			return err
		}
		return harden.PlanModes(pl, s.State, s.Checks, planned)
	}); err != nil {
		_ = s.SetPlanner(Name, nil)
		return p.fail(err, "fix the file named above, then press e to plan again")
	}
	p.ok = true
	s.Certs = &harden.CertsResult{Mode: harden.CertsMode(p.a.mode), Pairs: g.pairs, Generated: g.gen,
		Before: g.checks, After: p.planned}
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	p.a.record(s.Answers)
	return nil
}

func (p *Step) fail(err error, fix string) tea.Cmd {
	p.err, p.fix = err, fix
	return step.Fail(err, fix)
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
	return p.loaded && p.found != nil && !p.working && (p.ok || p.err != nil || p.planned != nil)
}

// CapturesKeys implements step.Capturer: the form gets every key while it is open.
func (p *Step) CapturesKeys() bool { return p.form != nil }

// ScrollsItself implements step.Scroller: a form keeps its own place; the checks are
// scrolled by the shell.
func (p *Step) ScrollsItself() bool { return p.form != nil }

// Ready implements step.Step: the plan was made and leaves no check failing.
func (p *Step) Ready() bool { return p.ok && p.err == nil && p.form == nil && !p.working }

// Keys implements step.Step.
func (p *Step) Keys() []key.Binding {
	switch {
	case p.form != nil:
		return p.form.KeyBinds()
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
