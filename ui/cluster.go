package ui

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/phased"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/preflight"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// clusterMembers reads the member list through the session's connection; nil for a
// single member or an etcd that does not answer (the wizard is then the one-node
// wizard it always was).
func clusterMembers(ctx context.Context, s *step.Session) *cluster.Facts {
	conn, err := s.Conn()
	if err != nil {
		return nil
	}
	return cluster.Several(ctx, conn)
}

// addCluster makes r this node's cluster plan: the phase manifests and, on the first
// node (no bundle in the session), the bundle for the others.
func addCluster(r *harden.Result, s *step.Session, f *cluster.Facts) error {
	// Preflight refuses this already; the cluster may have moved on since.
	if m := f.HasCA(); s.Bundle == nil && m != nil {
		return preflight.BundleNeeded(m, s.Layout.Root)
	}
	name, _ := s.State.Etcd.Flag("name")
	var names, endpoints []string
	for _, m := range f.Members {
		names, endpoints = append(names, m.Name), append(endpoints, m.ClientURLs...)
	}
	if err := harden.AddCluster(r, name, names, endpoints, s.Bundle); err != nil {
		return err
	}
	if r.Cluster != nil {
		r.Cluster.Observed = f
	}
	return nil
}

// clusterPlanDir is where the wizard's apply on a cluster node keeps the plan it applies
// in phases, with the bundle for the other nodes: next to the backups.
func clusterPlanDir(root string) string {
	return filepath.Join(filepath.Dir(plan.DefaultBackupRoot(root)), "cluster-plan")
}

// applyCluster saves the node's cluster plan and applies the phases the cluster allows
// now (phased.Apply); the session keeps the report for the summary.
func applyCluster(ctx context.Context, s *step.Session, f *cluster.Facts, progress func(string)) (string, error) {
	r, err := s.HardenResult(time.Now())
	if err != nil {
		return "", err
	}
	if err := addCluster(r, s, f); err != nil {
		return "", err
	}
	if r.Cluster == nil {
		return applyOne(ctx, s, progress) // etcd is hardened already: nothing to phase
	}
	dir := clusterPlanDir(s.Layout.Root)
	if err := harden.WriteOut(dir, r, harden.WriteOptions{Replace: true}); err != nil {
		return "", fmt.Errorf("save the cluster plan in %s: %w", dir, err)
	}
	if s.Bundle != nil {
		progress(fmt.Sprintf("a cluster of %d members: this node's plan, with the bundle from %s, is in %s", len(f.Members), s.Bundle.Dir, dir))
	} else {
		progress(fmt.Sprintf("a cluster of %d members: the plan and the bundle for the other nodes are in %s", len(f.Members), dir))
	}
	p, err := harden.ReadChanges(dir, s.Layout.Root)
	if err != nil {
		return "", err
	}
	rep, err := phased.Apply(ctx, phased.Input{
		Root: s.Layout.Root, Plan: p, Node: r.Cluster.Node, Manifests: r.Cluster.Manifests(), Etcd: r.Cluster.Etcd,
		EncryptionConfig: r.Cluster.EncryptionConfig, Endpoints: r.Cluster.Endpoints,
	}, phased.Options{Layout: s.Layout}, func(e phased.Event) { progress(e.Message) })
	s.Rollout, s.RolloutPlan = rep, dir
	if err != nil {
		return "", err
	}
	backup := ""
	for _, d := range rep.Done {
		backup = d.Backup
	}
	return backup, nil
}
