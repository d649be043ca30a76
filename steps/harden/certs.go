package harden

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
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

// leafPairs are the pairs CertsGenerate re-issues: every pair but the CA.
var leafPairs = certs.PairNames()[1:]

// CertFiles are the certificates one set of answers makes: the pairs checked on disk
// and, unless the mode is CertsExisting, the keys and certificates Generate made. Making
// them is the slow and random part of the certificates step, done once per set of
// answers (MakeCerts); Plan adds the same files to a plan each time it is rebuilt.
type CertFiles struct {
	Mode CertsMode
	// Now is when they were made: the time of the certificates and of every check.
	Now time.Time
	// Before are the checks of the pairs given to MakeCerts, as the files are on disk.
	Before []certs.Check
	// Pairs are the pairs as the plan leaves them.
	Pairs []certs.Pair
	// Generated is what Generate made; nil in mode CertsExisting.
	Generated *certs.Generated
	// files are the generated files as Generate planned them, in a plan of their own.
	files []*plan.Change
}

// MakeCerts checks pairs (Discover's, or with paths a person chose) on disk and makes
// what o.Certs asks for: CertsAuto generates what is missing or failing, CertsGenerate
// re-issues every leaf (and the CA when it cannot sign), CertsExisting makes nothing.
// Only o.Certs, o.KeyType, o.NodeName, o.AdvertiseIP and o.Now are read. On an error
// from Generate the CertFiles returned still hold Before.
func MakeCerts(s *discover.State, pairs []certs.Pair, o Options) (*CertFiles, error) {
	o = o.withDefaults()
	c := &CertFiles{Mode: o.Certs, Now: o.Now, Before: certs.Validate(s, pairs, o.Now), Pairs: pairs}
	if _, err := ParseCertsMode(string(o.Certs)); err != nil {
		return c, err
	}
	if o.Certs == CertsExisting {
		return c, nil
	}
	g := certs.GenOptions{NodeName: o.NodeName, AdvertiseIP: o.AdvertiseIP, KeyType: o.KeyType, Now: o.Now}
	if o.Certs == CertsGenerate {
		g.Renew = leafPairs
		g.ReplaceCA = certs.CAUnusable(pairs, c.Before)
	}
	scratch := plan.New(s.Layout.Root)
	if o.Bundle != nil {
		if err := useBundleCA(scratch, s, pairs, o.Bundle); err != nil {
			return c, err
		}
	}
	gen, err := certs.Generate(scratch, s, pairs, g)
	if err != nil {
		return c, err
	}
	c.Generated, c.Pairs, c.files = gen, gen.Pairs, scratch.Changes
	return c, nil
}

// Plan adds the certificates to p: the files MakeCerts generated (the same bytes, each
// with its reasons) and the manifest edits that use the pairs; then it checks the pairs
// as p leaves them. Mode CertsExisting refuses when a check of the files on disk fails
// (ErrCertsFailing), and every mode when a check of the planned files fails
// (ErrPlanInvalid); both errors are a *CheckError. After an error p may hold part of the
// changes: rebuild the plan from scratch.
func (c *CertFiles) Plan(p *plan.Plan, s *discover.State) (*CertsResult, error) {
	if c.Mode == CertsExisting && certs.Failed(c.Before) {
		return nil, checkError(ErrCertsFailing, c.Before,
			"mode existing uses the certificates as they are; fix these files or let etcd-harden generate what is missing (mode auto)")
	}
	for _, f := range c.files {
		if err := replay(p, f); err != nil {
			return nil, err
		}
	}
	cr := &CertsResult{Mode: c.Mode, Pairs: c.Pairs, Generated: c.Generated, Before: c.Before}
	if err := certs.PlanManifests(p, s, c.Pairs); err != nil {
		return nil, fmt.Errorf("plan the TLS flags in the manifests: %w", err)
	}
	ps, err := PlannedState(p, s)
	if err != nil {
		return nil, err
	}
	cr.After = certs.ValidatePlan(p, ps, c.Pairs, c.Now)
	if certs.Failed(cr.After) {
		return nil, checkError(ErrPlanInvalid, cr.After,
			"the plan would leave these checks failing; fix the files named or choose another certificates mode")
	}
	return cr, nil
}

// PlanWithModes is Plan followed by PlanModes: the file modes the CIS checks (audits,
// of the node as it is) and the checks of the planned keys ask for. It is what Build
// and the wizard plan for the certificates.
func (c *CertFiles) PlanWithModes(p *plan.Plan, s *discover.State, audits []audit.Check) (*CertsResult, error) {
	cr, err := c.Plan(p, s)
	if err != nil {
		return nil, err
	}
	if err := PlanModes(p, s, audits, cr.After); err != nil {
		return nil, fmt.Errorf("plan the file modes: %w", err)
	}
	// The checks again, with the keys' modes as planned now: what the plan leaves.
	ps, err := PlannedState(p, s)
	if err != nil {
		return nil, err
	}
	cr.After = certs.ValidatePlan(p, ps, c.Pairs, c.Now)
	return cr, nil
}

// replay creates the file f describes in p, keeping each of its reasons.
func replay(p *plan.Plan, f *plan.Change) error {
	reasons := f.Reasons
	if len(reasons) == 0 {
		reasons = []string{""}
	}
	for _, r := range reasons {
		if err := p.Create(f.Path, f.New, f.Mode, f.DirMode, f.Secret, r); err != nil {
			return err
		}
	}
	return nil
}

// PlanCerts adds step 2's changes to p, without the file modes: MakeCerts with the pairs
// Discover finds, then Plan (see both for the modes and the errors).
func PlanCerts(p *plan.Plan, s *discover.State, o Options) (*CertsResult, error) {
	c, err := makeCerts(s, o)
	if err != nil {
		return nil, err
	}
	return c.Plan(p, s)
}

// makeCerts is MakeCerts for the command line: the pairs Discover finds, an unknown
// mode refused before anything is read.
func makeCerts(s *discover.State, o Options) (*CertFiles, error) {
	o = o.withDefaults()
	if _, err := ParseCertsMode(string(o.Certs)); err != nil {
		return nil, err
	}
	c, err := MakeCerts(s, certs.Discover(s), o)
	if err != nil {
		return nil, fmt.Errorf("generate the etcd certificates: %w", err)
	}
	return c, nil
}

// CheckError is a refusal because certificate checks fail. It wraps ErrCertsFailing or
// ErrPlanInvalid (match with errors.Is) and holds the checks, so that a front door can
// show them.
type CheckError struct {
	// Kind is ErrCertsFailing or ErrPlanInvalid.
	Kind error
	// Checks are every check made, the failing ones among them.
	Checks []certs.Check
	what   string
}

// checkError is the CheckError of kind for checks; what says what went wrong.
func checkError(kind error, checks []certs.Check, what string) *CheckError {
	return &CheckError{Kind: kind, Checks: checks, what: what}
}

// Error lists the failing checks under what went wrong.
func (e *CheckError) Error() string {
	var b strings.Builder
	for _, c := range e.Checks {
		if c.Status == certs.Fail {
			fmt.Fprintf(&b, "\n  - %s, check %s: %s", c.Pair, c.Name, c.Message)
		}
	}
	return fmt.Sprintf("%s: %s:%s", e.Kind, e.what, b.String())
}

// Unwrap returns Kind.
func (e *CheckError) Unwrap() error { return e.Kind }
