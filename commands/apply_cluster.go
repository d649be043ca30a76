package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/phased"
)

// runClusterApply applies a cluster plan in phases: as far as the cluster allows now.
func runClusterApply(ctx context.Context, g *globalOptions, o applyOptions, cp *harden.ClusterPlan, in io.Reader, out, errOut io.Writer) error {
	p, err := harden.ReadChanges(o.dir, g.root)
	if errors.Is(err, harden.ErrOtherRoot) {
		return &usageError{err}
	}
	if err != nil {
		return err
	}
	if err := refuseUnattended(o.yes, in); err != nil {
		return err
	}
	if !o.yes {
		fmt.Fprintf(out, "Member %s of a cluster of %d: apply restarts its etcd once per phase the cluster allows now.\n", cp.Node, len(cp.Members))
	}
	if err := consent(ctx, o.yes, in, out, "Go on? [y/N] "); err != nil {
		return err
	}
	line := g.progress(errOut).Timed()
	rep, err := phased.Apply(ctx, phased.Input{
		Root: g.root, Plan: p, Node: cp.Node, Manifests: cp.Manifests(), Etcd: cp.Etcd,
		EncryptionConfig: cp.EncryptionConfig, Endpoints: cp.Endpoints,
	}, phased.Options{Layout: g.layout(), Timeout: o.timeout}, func(e phased.Event) {
		line.Say(e.Message)
	})
	line.Stop()
	if rep != nil {
		for _, d := range rep.Done {
			fmt.Fprintf(out, "Phase %s done on %s: etcd answered %s after the change, the whole cluster was healthy %s later. Backup: %s\n",
				d.Phase, cp.Node, d.Restart.Round(100*time.Millisecond), d.Gate.Round(100*time.Millisecond), d.Backup)
		}
	}
	if err != nil {
		return err
	}
	printRollout(out, rep)
	fmt.Fprintln(out, "Next: "+rep.Next())
	return nil
}

// printRollout prints the rollout as a table: node, phase, state.
func printRollout(out io.Writer, rep *phased.Report) {
	if rep.Facts == nil {
		return
	}
	fmt.Fprintln(out, "node      phase                                  state")
	for _, m := range rep.Facts.Members {
		state := "up"
		if !m.Up {
			state = "down: " + m.Err
		}
		fmt.Fprintf(out, "%-9s %-38s %s\n", m.Name, m.Phase(), state)
	}
}
