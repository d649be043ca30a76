// Package harden builds the whole hardening plan without prompts, in the wizard's
// order (encryption at rest, then certificates and the manifest edits that use them),
// checks the result, and writes it into a plan folder that a person reviews and that
// `etcd-harden apply --plan DIR` applies exactly as reviewed.
//
// Nothing here writes under the node's root: Build only reads it, WriteOut writes the
// plan folder, ReadOut reads it back.
package harden

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// CertsMode says what the certificates step may do.
type CertsMode string

// Certificate modes.
const (
	// CertsAuto generates what is missing or fails a check, and keeps the rest.
	CertsAuto CertsMode = "auto"
	// CertsExisting uses the files as they are and refuses when any check fails.
	CertsExisting CertsMode = "existing"
	// CertsGenerate re-issues every leaf certificate (server, peer and both clients)
	// from the existing etcd CA, or from a new one when there is none.
	CertsGenerate CertsMode = "generate"
)

// CertsModes returns the modes in the order to offer them.
func CertsModes() []CertsMode { return []CertsMode{CertsAuto, CertsExisting, CertsGenerate} }

// ParseCertsMode returns the mode named s ("" is CertsAuto).
func ParseCertsMode(s string) (CertsMode, error) {
	switch m := CertsMode(s); m {
	case "":
		return CertsAuto, nil
	case CertsAuto, CertsExisting, CertsGenerate:
		return m, nil
	}
	return "", fmt.Errorf("certificates mode %q is not known; choose auto, existing or generate", s)
}

// ParseKeyType returns the certificate key type named s: "ecdsa" or "rsa" (or the full
// names "ecdsa-p256", "rsa-2048"); "" is ECDSA P-256.
func ParseKeyType(s string) (certs.KeyType, error) {
	switch strings.ToLower(s) {
	case "", "ecdsa", string(certs.ECDSAP256):
		return certs.ECDSAP256, nil
	case "rsa", string(certs.RSA2048):
		return certs.RSA2048, nil
	}
	return "", fmt.Errorf("key type %q is not supported; choose ecdsa (P-256) or rsa (2048 bits)", s)
}

// Errors Build returns when the node's files cannot be hardened as asked; match with
// errors.Is.
var (
	// ErrCertsFailing: mode CertsExisting and some certificate checks fail.
	ErrCertsFailing = errors.New("certificate checks fail")
	// ErrPlanInvalid: the certificates as the plan leaves them would still fail.
	ErrPlanInvalid = errors.New("planned certificates fail their checks")
)

// Options are the answers the wizard would ask for.
type Options struct {
	// Provider, Resources, KeyName, Rotate, AutoReload and KMS are step 1's choices
	// (see encryption.Options; empty fields take its defaults).
	Provider   encryption.Provider
	Resources  []string
	KeyName    string
	Rotate     bool
	AutoReload bool
	KMS        encryption.KMSOptions
	// Certs is CertsAuto when empty.
	Certs CertsMode
	// KeyType, NodeName and AdvertiseIP tune generated certificates (see certs.GenOptions).
	KeyType     certs.KeyType
	NodeName    string
	AdvertiseIP string
	// Now is the time of the plan (key name, certificate dates); time.Now() when zero.
	Now time.Time
	// Rand is where the encryption key comes from; crypto/rand when nil.
	Rand io.Reader
	// PlanDir and ScanEtcd let step 1 keep every key in use (see encryption.Options).
	PlanDir  string
	ScanEtcd func(resources []string) (*encryption.StatusReport, error)
}

func (o Options) withDefaults() Options {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Certs == "" {
		o.Certs = CertsAuto
	}
	return o
}

// CertsResult is what the certificates step found and planned.
type CertsResult struct {
	Mode CertsMode `json:"mode"`
	// Pairs are the five pairs as the plan leaves them.
	Pairs []certs.Pair `json:"pairs"`
	// Generated is what Generate planned; nil in mode CertsExisting.
	Generated *certs.Generated `json:"generated,omitempty"`
	// Before are the checks of the files on disk; After those of the planned files.
	Before []certs.Check `json:"before"`
	After  []certs.Check `json:"after"`
}

// Result is one complete plan and what a reviewer needs to judge it.
type Result struct {
	// State is the node as discovered (the manifests before the plan); Planned is the
	// same node with the manifests as the plan leaves them (see PlannedState).
	State, Planned *discover.State
	Plan           *plan.Plan
	// Encryption is step 1's result (its Key prints masked).
	Encryption *encryption.Result
	Certs      *CertsResult
	// Before are the CIS checks of the node as it is; After those of the node as the
	// plan leaves it (see AuditAfter).
	Before, After []audit.Check
	// Steps are what the user must still do after applying the plan, in order.
	Steps []string
	// Now is the time the plan was made.
	Now time.Time
}

// Build makes the whole plan for the node in s, in the wizard's order: PlanEncryption,
// then PlanCerts (discover, validate, generate as o.Certs allows, manifest edits,
// validate the result), then PlanModes, then AuditAfter and RemainingSteps. It reads the node and
// writes nothing.
func Build(s *discover.State, o Options) (*Result, error) {
	o = o.withDefaults()
	r := &Result{State: s, Plan: plan.New(s.Layout.Root), Now: o.Now}
	r.Before = audit.Run(s, audit.Options{})
	var err error
	if r.Encryption, err = PlanEncryption(r.Plan, s, o); err != nil {
		return nil, err
	}
	if r.Certs, err = PlanCerts(r.Plan, s, o); err != nil {
		return nil, err
	}
	if err := PlanModes(r.Plan, s, r.Before, r.Certs.After); err != nil {
		return nil, fmt.Errorf("plan the file modes: %w", err)
	}
	if r.Planned, err = PlannedState(r.Plan, s); err != nil {
		return nil, err
	}
	r.Certs.After = certs.ValidatePlan(r.Plan, r.Planned, r.Certs.Pairs, o.Now) // with the keys' modes as planned now
	if r.After, err = auditAfter(r.Plan, s, r.Planned); err != nil {
		return nil, err
	}
	r.Steps = RemainingSteps(r)
	return r, nil
}

// PlanEncryption adds step 1's changes to p (see encryption.Apply).
func PlanEncryption(p *plan.Plan, s *discover.State, o Options) (*encryption.Result, error) {
	o = o.withDefaults()
	return encryption.Apply(p, s, encryption.Options{
		Provider: o.Provider, Resources: o.Resources, KeyName: o.KeyName, KMS: o.KMS,
		Rotate: o.Rotate, AutomaticReload: o.AutoReload, Now: o.Now, Rand: o.Rand,
		PlanDir: o.PlanDir, ScanEtcd: o.ScanEtcd,
	})
}

// leafPairs are the pairs CertsGenerate re-issues.
var leafPairs = []string{certs.PairServer, certs.PairPeer, certs.PairHealthcheck, certs.PairAPIServer}

// PlanCerts adds step 2's changes to p: it discovers the pairs and checks them on
// disk; CertsExisting refuses (ErrCertsFailing) when a check fails, CertsAuto generates
// what is missing or failing, CertsGenerate re-issues every leaf. It then plans the
// manifest edits and checks the pairs as the plan leaves them, refusing
// (ErrPlanInvalid) when one still fails. After an error p may hold part of the changes:
// rebuild the plan from scratch.
func PlanCerts(p *plan.Plan, s *discover.State, o Options) (*CertsResult, error) {
	o = o.withDefaults()
	if _, err := ParseCertsMode(string(o.Certs)); err != nil {
		return nil, err
	}
	pairs := certs.Discover(s)
	cr := &CertsResult{Mode: o.Certs, Before: certs.Validate(s, pairs, o.Now)}
	if o.Certs == CertsExisting {
		if certs.Failed(cr.Before) {
			return nil, checkError(ErrCertsFailing, cr.Before,
				"mode existing uses the certificates as they are; fix these files or let etcd-harden generate what is missing (mode auto)")
		}
	} else {
		g := certs.GenOptions{NodeName: o.NodeName, AdvertiseIP: o.AdvertiseIP, KeyType: o.KeyType, Now: o.Now}
		if o.Certs == CertsGenerate {
			g.Renew = leafPairs
			g.ReplaceCA = certs.CAUnusable(pairs, cr.Before)
		}
		gen, err := certs.Generate(p, s, pairs, g)
		if err != nil {
			return nil, fmt.Errorf("generate the etcd certificates: %w", err)
		}
		cr.Generated, pairs = gen, gen.Pairs
	}
	cr.Pairs = pairs
	if err := certs.PlanManifests(p, s, pairs); err != nil {
		return nil, fmt.Errorf("plan the TLS flags in the manifests: %w", err)
	}
	ps, err := PlannedState(p, s)
	if err != nil {
		return nil, err
	}
	cr.After = certs.ValidatePlan(p, ps, pairs, o.Now)
	if certs.Failed(cr.After) {
		return nil, checkError(ErrPlanInvalid, cr.After,
			"the plan would leave these checks failing; fix the files named or choose another certificates mode")
	}
	return cr, nil
}

// checkError lists the failing checks under what went wrong.
func checkError(kind error, checks []certs.Check, what string) error {
	var b strings.Builder
	for _, c := range checks {
		if c.Status == certs.Fail {
			fmt.Fprintf(&b, "\n  - %s, check %s: %s", c.Pair, c.Name, c.Message)
		}
	}
	return fmt.Errorf("%w: %s:%s", kind, what, b.String())
}

// PlannedState returns s with the manifests as p leaves them, parsed again, so that
// checks see the planned flags and mounts.
func PlannedState(p *plan.Plan, s *discover.State) (*discover.State, error) {
	ns := *s
	var err error
	if ns.Etcd, err = reparse(p, s.Etcd, discover.EtcdBinary); err != nil {
		return nil, err
	}
	if ns.APIServer, err = reparse(p, s.APIServer, discover.APIServerBinary); err != nil {
		return nil, err
	}
	return &ns, nil
}

func reparse(p *plan.Plan, m *discover.Manifest, binary string) (*discover.Manifest, error) {
	if m == nil {
		return nil, nil
	}
	c := p.Find(m.RelPath)
	if c == nil {
		return m, nil
	}
	nm, err := discover.ParseManifest(m.Root, m.Path, c.New, binary)
	if err != nil {
		return nil, fmt.Errorf("the planned %s does not parse (a bug: please report it): %w", m.Path, err)
	}
	return nm, nil
}
