// Package ui is the wizard: a bubbletea v2 shell that runs an ordered list of steps,
// and a plain driver that runs the very same steps without a terminal UI. The contract
// between them and the steps is in ui/step; each step lives in its own package.
package ui

import (
	"context"
	"fmt"
	"time"

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
	rep, err := rollout.Apply(ctx, s.Plan, s.Layout.Root, rollout.Options{Layout: s.Layout}, func(e rollout.Event) {
		progress(phaseLine(e))
	})
	if err != nil {
		return "", err
	}
	if rep.Backup == nil {
		return "", nil
	}
	return rep.Backup.Dir, nil
}

// savePlan writes the session's plan as `plan --out` does: patch, review, secrets.
func savePlan(s *step.Session, dir string) error {
	r := &harden.Result{State: s.State, Plan: s.Plan, Before: s.Checks, Now: time.Now()}
	r.Encryption, _ = s.Values[step.ValueEncryption].(*encryption.Result)
	r.Certs, _ = s.Values[step.ValueCerts].(*harden.CertsResult)
	planned, err := harden.PlannedState(s.Plan, s.State)
	if err != nil {
		return fmt.Errorf("reading the planned manifests: %w", err)
	}
	r.Planned = planned
	if r.After, err = harden.AuditAfter(s.Plan, s.State); err != nil {
		return fmt.Errorf("auditing the planned manifests: %w", err)
	}
	r.Steps = harden.RemainingSteps(r)
	return harden.WriteOut(dir, r, harden.WriteOptions{})
}

// phaseLine says in words what the apply is doing.
func phaseLine(e rollout.Event) string {
	var line string
	switch e.Phase {
	case rollout.PhaseBackup:
		line = "backing up the files it replaces"
	case rollout.PhaseWrite:
		return "wrote /" + e.Path
	case rollout.PhaseWaitEtcd:
		line = "etcd at " + e.Path
	case rollout.PhaseRollback:
		line = "etcd did not come back: putting every file back"
	case rollout.PhaseDone:
		return "done"
	default:
		line = string(e.Phase)
	}
	if e.Message != "" && e.Phase != rollout.PhaseBackup {
		line += " (" + e.Message + ")"
	}
	return line
}
