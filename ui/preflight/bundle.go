package preflight

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/huh/v2"

	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// KeyBundle is the answer key of the cluster question: on a node of a multi-member
// cluster other than the first, the bundle/ folder the first node's plan wrote (its etcd
// CA and encryption config, copied to this node); empty on the first node, whose plan
// makes the bundle.
const KeyBundle = "cluster.bundle"

// AnswerKeys lists the step's answer keys.
var AnswerKeys = []string{KeyBundle}

// ErrBundleNeeded: once a member serves TLS the cluster has its etcd CA; every other
// node's plan must take it from the first node's bundle (the cluster question).
var ErrBundleNeeded = errors.New("another member already serves TLS")

// BundleNeeded is the refusal of a node given no bundle while member m serves TLS.
func BundleNeeded(m *cluster.Member, root string) error {
	return fmt.Errorf("%w (%s, phase %s) and no cluster bundle was given: this is not the first node; run the wizard again and give the first node's bundle/ folder at the cluster question (answers file: %s), or plan with `etcd-harden plan --root %s --bundle <the first node's plan>/bundle --out DIR`",
		ErrBundleNeeded, m.Name, m.Phase(), KeyBundle, root)
}

// CheckBundle accepts an empty answer (the first node) or a folder that holds a cluster
// bundle; the error says what the folder lacks.
func CheckBundle(v string) error {
	if v = strings.TrimSpace(v); v == "" {
		return nil
	}
	if _, err := harden.ReadBundle(v); err != nil {
		return err
	}
	return nil
}

// clusterNamed reports whether etcd.yaml's --initial-cluster names several members:
// the node is then one of a cluster and may need the first node's bundle. A file fact,
// so that a single node is never asked and never dialed.
func clusterNamed(st *discover.State) bool {
	if st == nil || st.Etcd == nil {
		return false
	}
	v, ok := st.Etcd.Flag("initial-cluster")
	return ok && len(strings.Split(v, ",")) > 1
}

// bundleForm asks for the bundle, with the situation written out first for the plain
// driver (intro) and nil when the answer was given in advance.
func (p *Step) bundleForm(intro string) *huh.Form {
	if !p.asks {
		return nil
	}
	g := &step.Groups{Intro: intro}
	g.Add(nil, huh.NewInput().Key(KeyBundle).
		Title("The first node's cluster bundle (empty on the first node)").
		Description("On every other node: the bundle/ folder the first node's plan wrote, copied here (scp -rp, root only).\nIts etcd CA signs this node's certificates; its encryption config becomes this node's.").
		Placeholder("/root/etcd-bundle").
		Validate(CheckBundle).Value(&p.bundle))
	return g.Form("Cluster")
}

// situationText is the question's situation for the plain driver.
func (p *Step) situationText() string {
	return "etcd.yaml names several members (--initial-cluster): this node is one of a cluster. The first node's plan makes the cluster's etcd CA and encryption config (its bundle/ folder); every other node uses that bundle. Leave the answer empty on the first node."
}

// useBundle reads the answered bundle into the session (nil on the first node) and
// records the answer.
func (p *Step) useBundle(s *step.Session) error {
	p.answered = true
	s.Bundle = nil
	if s.Answers == nil {
		s.Answers = map[string]string{}
	}
	dir := strings.TrimSpace(p.bundle)
	s.Answers[KeyBundle] = dir
	if dir == "" {
		return nil
	}
	b, err := harden.ReadBundle(dir)
	if err != nil {
		return fmt.Errorf("%s %w", KeyBundle, err)
	}
	s.Bundle = b
	return nil
}
