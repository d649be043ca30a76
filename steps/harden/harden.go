// Package harden builds the whole hardening plan without prompts, in the wizard's
// order (encryption at rest, then certificates and the manifest edits that use them),
// checks the result, and writes it into a plan folder that a person reviews and that
// `etcd-harden apply --plan DIR` applies exactly as reviewed.
//
// Nothing here writes under the node's root: Build only reads it, WriteOut writes the
// plan folder, ReadOut reads it back.
package harden

import (
	"fmt"
	"io"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
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
	// RetireKeys are old keys to remove from the encryption config once a scan of etcd
	// shows no value stored with them (encryption.Options.RetireKeys).
	RetireKeys []string
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
	// Bundle, on a node of a cluster other than the first, is the first node's bundle:
	// its CA signs this node's certificates, its encryption config is this node's.
	Bundle *Bundle
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
	// Cluster is set on a node of a multi-member cluster (AddCluster): the phases the
	// node is applied in. Bundle is the bundle the plan used or, on the first node, made.
	Cluster *ClusterPlan
	Bundle  *Bundle
}

// Build makes the whole plan for the node in s, in the wizard's order: PlanEncryption,
// then the certificates (MakeCerts with the pairs Discover finds, then
// CertFiles.PlanWithModes: manifest edits, the result validated, the file modes), then
// AuditAfter and RemainingSteps. It reads the node and writes nothing.
func Build(s *discover.State, o Options) (*Result, error) {
	o = o.withDefaults()
	r := &Result{State: s, Plan: plan.New(s.Layout.Root), Now: o.Now}
	r.Before = audit.Run(s, audit.Options{})
	var err error
	if r.Encryption, err = PlanEncryption(r.Plan, s, o); err != nil {
		return nil, err
	}
	if err := UseBundleConfig(r.Plan, s, r.Encryption, o.Bundle); err != nil {
		return nil, err
	}
	made, err := makeCerts(s, o)
	if err != nil {
		return nil, err
	}
	if r.Certs, err = made.PlanWithModes(r.Plan, s, r.Before); err != nil {
		return nil, err
	}
	if r.Planned, err = PlannedState(r.Plan, s); err != nil {
		return nil, err
	}
	if r.After, err = auditAfter(r.Plan, s, r.Planned); err != nil {
		return nil, err
	}
	r.Steps = RemainingSteps(r)
	return r, nil
}

// UseBundleConfig makes the encryption config that enc planned the cluster bundle's
// config, byte for byte: every kube-apiserver of a cluster needs the same one. A nil
// bundle, or a plan without a config file, is left as it is.
func UseBundleConfig(p *plan.Plan, s *discover.State, enc *encryption.Result, b *Bundle) error {
	if b == nil || enc == nil || enc.ConfigFile == "" {
		return nil
	}
	if err := p.Create(s.Layout.Rel(enc.ConfigFile), b.EncryptionConfig, 0o600, 0o700, true,
		"cluster: the encryption config of the cluster bundle, the same on every node"); err != nil {
		return err
	}
	enc.ConfigYAML = "(the cluster bundle's config, from " + b.Dir + ")"
	return nil
}

// PlanEncryption adds step 1's changes to p (see encryption.Apply).
func PlanEncryption(p *plan.Plan, s *discover.State, o Options) (*encryption.Result, error) {
	o = o.withDefaults()
	return encryption.Apply(p, s, encryption.Options{
		Provider: o.Provider, Resources: o.Resources, KeyName: o.KeyName, KMS: o.KMS,
		Rotate: o.Rotate, AutomaticReload: o.AutoReload, Now: o.Now, Rand: o.Rand,
		PlanDir: o.PlanDir, ScanEtcd: o.ScanEtcd, RetireKeys: o.RetireKeys,
	})
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
