package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// clusterMembers is the cluster a node's plan is made for.
type clusterMembers struct {
	node             string
	names, endpoints []string
	facts            *cluster.Facts // as observed, for REVIEW.md
}

// observeCluster reads the member list through the node's etcd. It returns nil for a
// single-member cluster, and when etcd cannot be reached and no bundle was given (the
// plan is then the one-node plan it always was). With a bundle, the cluster must answer
// and have several members.
func observeCluster(ctx context.Context, g *globalOptions, s *discover.State, bundle bool) (*clusterMembers, error) {
	conn, err := etcdconn.Resolve(g.etcd, s)
	var facts *cluster.Facts
	if err == nil {
		var cfg, cerr = conn.ClientConfig()
		if cerr == nil {
			facts, err = cluster.Observe(ctx, cluster.Access{Endpoints: conn.Endpoints, TLS: cfg.TLS})
		} else {
			err = cerr
		}
	}
	switch {
	case err != nil && bundle:
		return nil, fmt.Errorf("--bundle: the cluster's member list could not be read (%w); a plan with a bundle is for a node of a running multi-member cluster", err)
	case err != nil:
		return nil, nil
	case len(facts.Members) < 2 && bundle:
		return nil, &usageError{errors.New("--bundle is for a node of a cluster of several members; this etcd has one member: plan without --bundle")}
	case len(facts.Members) < 2:
		return nil, nil
	}
	if mb := facts.HasCA(); !bundle && mb != nil {
		return nil, &usageError{fmt.Errorf("member %s already serves TLS (phase %s): this cluster has its etcd CA; plan this node with --bundle <the first node's plan>/bundle, so that its certificates come from that CA", mb.Name, mb.Phase())}
	}
	name, _ := s.Etcd.Flag("name")
	m := &clusterMembers{node: name, facts: facts}
	for _, mb := range facts.Members {
		m.names = append(m.names, mb.Name)
		m.endpoints = append(m.endpoints, mb.ClientURLs...)
	}
	if facts.Member(name) == nil {
		return nil, fmt.Errorf("etcd.yaml --name is %q, and the cluster has no member of that name (members: %v)", name, m.names)
	}
	return m, nil
}
