// Package encryption is the wizard's encryption-at-rest step: it shows the config
// kube-apiserver has now, asks for a provider, resources and key name (or whether to
// rotate an existing config), makes the key once, and plans the config file and the
// kube-apiserver.yaml edits with steps/encryption.
package encryption

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	enc "github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Name is the step's name in the wizard's order and in Session.SetPlanner.
const Name = "encryption"

// Def is the step's entry in the wizard's list of steps.
func Def() step.Def { return step.Def{Name: Name, New: func() step.Step { return New() }} }

// Step chooses and plans encryption at rest for kube-apiserver.
type Step struct {
	now    func() time.Time
	random io.Reader // where keys come from: crypto/rand

	step.Questions // the form, the answers given in advance, the error

	located bool
	cur     *enc.Current
	inUse   inUse // the keys etcd's values were written with
	a       answers

	keys      map[enc.Provider][]byte // one key per provider choice, made once
	res       *enc.Result
	configRel string // the config file relative to the root, for the diff
	reveal    revealState
}

// revealState is where the "show the key" exchange stands.
type revealState int

const (
	hidden revealState = iota
	asking
	shown
)

// New returns the encryption step.
func New() *Step {
	return &Step{now: time.Now, random: rand.Reader, keys: map[enc.Provider][]byte{}, Questions: step.NewQuestions("encryption")}
}

type located struct {
	cur *enc.Current
	err error
	inUse
}

// inUse is what etcd's values showed of the keys they were written with, scanned once
// when the step starts, so that planning keeps every key a value needs.
type inUse struct {
	scanned []string // the resources scanned; nil when etcd was not asked
	report  *enc.StatusReport
	err     error
}

// scanResources are the resources scanned for keys in use: those the step offers and
// those the config kube-apiserver points at encrypts.
func scanResources(cur *enc.Current) []string {
	out := []string{"secrets", "configmaps"}
	if cur != nil && cur.Config != nil {
		for _, r := range cur.Config.Resources() {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// scanFor answers planning's scan from the one made at the start; resources it did not
// cover count as not checked, so every key found in the node's files is kept.
func (u inUse) scanFor(resources []string) (*enc.StatusReport, error) {
	for _, r := range resources {
		if !slices.Contains(u.scanned, r) {
			return nil, fmt.Errorf("etcd was scanned for %s only", strings.Join(u.scanned, ", "))
		}
	}
	return u.report, u.err
}

var (
	editKey   = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit answers"))
	revealKey = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reveal key"))
	hideKey   = key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "hide key"))
	yesKey    = key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "show it"))
	noKey     = key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n", "keep it hidden"))
)

// Title implements step.Step.
func (p *Step) Title() string { return "Encryption at rest" }

// Intro implements step.Step.
func (p *Step) Intro() string {
	return "Chooses how kube-apiserver encrypts Secrets in etcd and plans the config file with a new key."
}

// Init implements step.Step: it reads the config kube-apiserver points at, off the UI
// goroutine.
func (p *Step) Init(s *step.Session) tea.Cmd {
	p.Preset(s.Answers)
	state, scan := s.State, s.ScanEtcd
	return func() tea.Msg {
		cur, err := enc.Locate(state)
		l := located{cur: cur, err: err}
		if err == nil && scan != nil {
			l.scanned = scanResources(cur)
			l.report, l.inUse.err = scan(l.scanned)
		}
		return l
	}
}

// Update implements step.Step.
func (p *Step) Update(s *step.Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case located:
		return p.onLocated(s, msg)
	case step.FormDone:
		p.Done()
		return p.plan(s)
	case tea.KeyPressMsg:
		if !p.Open() {
			return p.key(msg)
		}
	}
	if p.Open() {
		return p.UpdateForm(msg, func() tea.Cmd { return p.plan(s) })
	}
	return nil
}

func (p *Step) onLocated(s *step.Session, msg located) tea.Cmd {
	p.located = true
	if msg.err != nil {
		return p.Fail(msg.err, locateFix(msg.err))
	}
	p.cur, p.inUse = msg.cur, msg.inUse
	p.defaults()
	if err := p.a.prefill(s.Answers); err != nil {
		return p.Fail(err, "correct the answer in the answers file or flag (see the allowed values above)")
	}
	cmd := p.Start(p.formFor(p.Asks(false), ""))
	if !p.Open() {
		return p.plan(s)
	}
	return cmd
}

// defaults are the answers offered first: secretbox for secrets with today's key name,
// or what the existing config already does well.
func (p *Step) defaults() {
	p.a = answers{provider: enc.Secretbox, resources: []string{"secrets"}, keyName: enc.DefaultKeyName(p.now())}
	if first, ok := p.firstProvider(); ok && first.Type == enc.KMS && first.KMSVersion == "v2" {
		p.a.provider, p.a.kmsName, p.a.kmsEndpoint = enc.KMS, first.Name, first.Endpoint
	}
	p.a.rotate = p.hasConfig() && !p.encryptsWell()
}

// Form implements step.Prompter: the questions whose answers were not given, with the
// situation written out first for the plain driver.
func (p *Step) Form(s *step.Session) *huh.Form {
	if !p.located || p.Err() != nil && p.res == nil {
		return nil
	}
	return p.formFor(p.Asks(false), p.situationText())
}

func (p *Step) key(msg tea.KeyPressMsg) tea.Cmd {
	switch {
	case p.reveal == asking && key.Matches(msg, yesKey):
		p.reveal = shown
	case p.reveal == asking && key.Matches(msg, noKey):
		p.reveal = hidden
	case p.reveal == asking:
	case p.reveal == shown && key.Matches(msg, hideKey):
		p.reveal = hidden
	case p.canReveal() && key.Matches(msg, revealKey):
		p.reveal = asking
	case p.editable() && key.Matches(msg, editKey):
		cmd := p.Start(p.formFor(p.Asks(true), ""))
		if p.Open() {
			p.reveal = hidden
		}
		return cmd
	}
	return nil
}

// editable reports whether the answers can be asked again: the existing config was read
// and the answers were planned or failed.
func (p *Step) editable() bool {
	return p.located && p.a.provider != "" && (p.res != nil || p.Err() != nil)
}

// canReveal reports whether there is a new key to show.
func (p *Step) canReveal() bool { return p.res != nil && p.Err() == nil && !p.res.Key.IsZero() }

// CapturesKeys implements step.Capturer: the form, and the reveal question, get every key.
func (p *Step) CapturesKeys() bool { return p.Open() || p.reveal == asking }

// ScrollsItself implements step.Scroller: a form keeps its own place; the planned view
// is scrolled by the shell.
func (p *Step) ScrollsItself() bool { return p.Open() }

// Ready implements step.Step: the answers are in and the plan was made.
func (p *Step) Ready() bool { return p.res != nil && p.Err() == nil && !p.Open() }

// Keys implements step.Step.
func (p *Step) Keys() []key.Binding {
	switch {
	case p.Open():
		return p.FormKeys()
	case p.reveal == asking:
		return []key.Binding{yesKey, noKey}
	case p.reveal == shown:
		return []key.Binding{hideKey, editKey}
	case p.canReveal():
		return []key.Binding{revealKey, editKey}
	case p.editable():
		return []key.Binding{editKey}
	}
	return nil
}

// options turns the answers into steps/encryption options.
func (p *Step) options(now time.Time) enc.Options {
	o := enc.Options{
		Provider: p.a.provider, Resources: p.a.allResources(), KeyName: p.a.keyName,
		Rotate: p.a.rotate, RetireKeys: p.a.retire, AutomaticReload: p.a.autoReload, Now: now,
	}
	if p.inUse.scanned != nil {
		o.ScanEtcd = p.inUse.scanFor
	}
	if o.Provider == enc.KMS {
		o.KMS = enc.KMSOptions{Name: p.a.kmsName, Endpoint: p.a.kmsEndpoint}
		o.KeyName = ""
	}
	return o
}

// keyFor returns the key for provider, made the first time that provider is chosen.
func (p *Step) keyFor(provider enc.Provider) ([]byte, error) {
	if provider == enc.KMS {
		return nil, nil
	}
	if k, ok := p.keys[provider]; ok {
		return k, nil
	}
	k := make([]byte, enc.KeySize)
	if _, err := io.ReadFull(p.random, k); err != nil {
		return nil, fmt.Errorf("make a %d-byte key: %w", enc.KeySize, err)
	}
	p.keys[provider] = k
	return k, nil
}

// plan sets the step's planner for the current answers and rebuilds the session's plan.
func (p *Step) plan(s *step.Session) tea.Cmd {
	p.ClearErr()
	p.res, p.reveal = nil, hidden
	raw, err := p.keyFor(p.a.provider)
	if err != nil {
		return p.Fail(err, "the system's random source failed; try again")
	}
	o := p.options(p.now())
	err = s.SetPlanner(Name, func(pl *plan.Plan) error {
		o := o
		// Apply reads its key from o.Rand: the same bytes every time, so replanning
		// gives the same config.
		o.Rand = bytes.NewReader(raw)
		res, err := enc.Apply(pl, s.State, o)
		if err != nil {
			return err
		}
		// On a cluster's other nodes, the config is the first node's, byte for byte.
		if err := harden.UseBundleConfig(pl, s.State, res, s.Bundle); err != nil {
			return err
		}
		p.res = res
		s.Encryption = res
		return nil
	})
	if err != nil {
		// A failing planner must not stay registered: every later rebuild would fail.
		_ = s.SetPlanner(Name, nil)
		p.res = nil
		s.Encryption = nil
		return p.Fail(err, planFix(err))
	}
	p.configRel = s.Layout.Rel(p.res.ConfigFile)
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	p.a.record(s.Answers, len(p.retirable()) > 0)
	return nil
}

func locateFix(err error) string {
	if errors.Is(err, enc.ErrNoAPIServer) {
		return "encryption at rest is set on kube-apiserver: run etcd-harden on a control-plane node, or point --manifests-dir at the folder with kube-apiserver.yaml"
	}
	if errors.Is(err, enc.ErrInvalidConfig) {
		return "fix the encryption config (kube-apiserver would not start with it), or point --encryption-provider-config in kube-apiserver.yaml at a valid one"
	}
	return "check the file named above, then start the wizard again"
}

func planFix(err error) string {
	if errors.Is(err, enc.ErrNoAPIServer) {
		return locateFix(err)
	}
	return "press e to change the answers"
}

// hasConfig reports whether kube-apiserver already has a config file that exists.
func (p *Step) hasConfig() bool { return p.cur != nil && !p.cur.Missing && p.cur.Config != nil }

// retirable are the existing config's keys that the scan made at the start proves no
// value uses, and that no entry writes with: those the form offers to retire.
func (p *Step) retirable() []string {
	if !p.hasConfig() {
		return nil
	}
	report, err := p.inUse.scanFor(p.cur.Config.Resources())
	if err != nil {
		return nil
	}
	return enc.RetirableKeys(p.cur.Config, report)
}

// firstProvider is the provider that writes Secrets in the existing config.
func (p *Step) firstProvider() (enc.ProviderRef, bool) {
	if !p.hasConfig() {
		return enc.ProviderRef{}, false
	}
	i := p.cur.Config.Lookup("secrets")
	if i < 0 {
		return enc.ProviderRef{}, false
	}
	e := p.cur.Config.Entries()[i]
	if len(e.Providers) == 0 {
		return enc.ProviderRef{}, false
	}
	return e.Providers[0], true
}

// encryptsWell reports whether the existing config writes Secrets with a recommended
// provider (secretbox, or a KMS v2 plugin).
func (p *Step) encryptsWell() bool {
	first, ok := p.firstProvider()
	if !ok {
		return false
	}
	_, _, recommended := enc.ProviderInfo(first.Type)
	return recommended || first.Type == enc.KMS && first.KMSVersion == "v2"
}

// rotateForced reports whether a chosen resource is written in plaintext by the existing
// config (identity first): then it must be rotated whatever the user says.
func (p *Step) rotateForced() bool {
	if !p.hasConfig() {
		return false
	}
	entries := p.cur.Config.Entries()
	for _, r := range p.a.allResources() {
		if i := p.cur.Config.Lookup(r); i >= 0 && len(entries[i].Providers) > 0 && entries[i].Providers[0].Type == enc.Identity {
			return true
		}
	}
	return false
}

// providersText describes the existing config's entries: "secrets → aescbc (key1), identity".
func (p *Step) providersText() string {
	var parts []string
	for _, e := range p.cur.Config.Entries() {
		var provs []string
		for _, r := range e.Providers {
			s := string(r.Type)
			switch {
			case r.Type == enc.KMS:
				s += " " + r.KMSVersion + " (" + r.Name + ")"
			case len(r.Keys) > 0:
				s += " (" + strings.Join(r.Keys, ", ") + ")"
			}
			provs = append(provs, s)
		}
		parts = append(parts, strings.Join(e.Resources, ", ")+" → "+strings.Join(provs, ", "))
	}
	return strings.Join(parts, "; ")
}
