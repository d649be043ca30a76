// Package ui is the wizard: a bubbletea v2 shell that runs an ordered list of steps,
// and a plain driver that runs the very same steps without a terminal UI. The contract
// between them and the steps is in ui/step; each step lives in its own package.
package ui

import (
	"context"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
	"github.com/etcd-harden/etcd-harden/ui/backup"
	uicerts "github.com/etcd-harden/etcd-harden/ui/certs"
	uienc "github.com/etcd-harden/etcd-harden/ui/encryption"
	"github.com/etcd-harden/etcd-harden/ui/preflight"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/summary"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

// DefaultSteps is the wizard's order of steps.
func DefaultSteps() []step.Def {
	return []step.Def{
		{Name: "preflight", New: func() step.Step { return preflight.New() }},
		uienc.Def(),
		uicerts.Def(),
		{Name: "review", New: func() step.Step { return review.New(applyPlan, savePlan) }},
		backup.Def(),
		{Name: "summary", New: func() step.Step { return summary.New() }},
	}
}

// applyPlan writes the session's plan with backups, waits for etcd over the new TLS,
// and puts everything back if it does not come.
func applyPlan(ctx context.Context, s *step.Session, progress func(string)) (string, error) {
	if members := clusterMembers(ctx, s); members != nil {
		return applyCluster(ctx, s, members, progress)
	}
	return applyOne(ctx, s, progress)
}

// applyOne is applyPlan on a single member.
func applyOne(ctx context.Context, s *step.Session, progress func(string)) (string, error) {
	rep, err := rollout.Apply(ctx, s.Plan, s.Layout.Root, rollout.Options{Layout: s.Layout}, func(e rollout.Event) {
		progress(view.RolloutEvent(e, view.Sentence))
	})
	if err != nil {
		return "", err
	}
	if rep.Backup == nil {
		return "", nil
	}
	progress("counting how etcd holds the values now")
	s.Status, s.StatusErr = scanStatus(ctx, s)
	return rep.Backup.Dir, nil
}

// scanStatus counts how etcd holds the values of the encrypted resources right after an
// apply, as `etcd-harden encryption status` does, over the client TLS the apply checked.
// They stay plaintext until kube-apiserver rewrites them; the summary says so. The apply
// changed the manifests, so the session reads them again first: its connection is then
// the one they configure now.
func scanStatus(ctx context.Context, s *step.Session) (*encryption.StatusReport, error) {
	st, err := discover.Load(s.Layout)
	if err != nil {
		return nil, err
	}
	s.State = st
	conn, err := s.Conn()
	if err != nil {
		return nil, err
	}
	resources, config := encryption.DefaultResources, (*encryption.Config)(nil)
	if cur, err := encryption.Locate(st); err == nil && cur != nil && cur.Config != nil {
		config, resources = cur.Config, cur.Config.Resources()
	}
	return encryption.Scan(ctx, conn, resources, config, time.Minute)
}

// savePlan writes the session's plan as `plan --out` does: patch, review, secrets.
func savePlan(s *step.Session, dir string) error {
	r, err := s.HardenResult(time.Now())
	if err != nil {
		return err
	}
	if members := clusterMembers(context.Background(), s); members != nil {
		if err := addCluster(r, s, members); err != nil {
			return err
		}
	}
	return harden.WriteOut(dir, r, harden.WriteOptions{})
}
