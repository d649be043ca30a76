package phased

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Input is one node's cluster plan, as `plan` wrote it.
type Input struct {
	// Root is the node's root; Plan every change as planned (the end state).
	Root string
	Plan *plan.Plan
	// Node is the member's --name; Manifests its etcd.yaml per phase, at Etcd (relative
	// to the root).
	Node      string
	Manifests *Manifests
	Etcd      string
	// EncryptionConfig is the config's path under the root; "" when not planned.
	EncryptionConfig string
	// Endpoints are the members' client URLs seen when planning: where to ask for the
	// member list besides this node's own etcd.
	Endpoints []string
}

// Options tune Apply.
type Options struct {
	Layout discover.Layout
	// Timeout bounds each wait for this node's etcd after a restart
	// (rollout.DefaultTimeout when zero); GateTimeout each gate over the whole cluster,
	// and the wait for another node's rollout lock (cluster.DefaultGateTimeout when zero).
	Timeout, GateTimeout time.Duration
	// BackupRoot receives the backups (plan.DefaultBackupRoot when empty).
	BackupRoot string
	// Hook is called at points of each phase ("phase N: written", "phase N: member
	// updated"), after rollout's own points: crash tests.
	Hook func(point string)
}

// Event is progress, for a log line.
type Event struct {
	Phase   cluster.Phase
	Message string
	Elapsed time.Duration
}

// Done is one phase this run moved the node to.
type Done struct {
	Phase cluster.Phase
	// Restart is how long this node's etcd took to answer with the new flags; Gate how
	// long the whole cluster then took to be healthy with this member caught up.
	Restart, Gate time.Duration
	Backup        string
}

// Report is what Apply did and what comes next.
type Report struct {
	Node string
	Done []Done
	// Facts are the cluster as seen last.
	Facts *cluster.Facts
	// Waiting lists the nodes that must reach Phase before this one can go on; empty
	// when the whole cluster is done.
	Waiting []string
	// Phase is this node's phase at the end.
	Phase cluster.Phase
	// Elapsed is the whole run.
	Elapsed time.Duration
}

// Complete reports whether every member is at phase 3.
func (r *Report) Complete() bool {
	return r.Facts != nil && r.Facts.MinPhase() == cluster.PhaseMutualTLS
}

// Next says what to run next and where, for the operator.
func (r *Report) Next() string {
	if r.Complete() {
		return "every member serves clients and peers over mutual TLS only: the cluster is done. Rewrite the Secrets through the new key once (kubectl get secrets -A -o json | kubectl replace -f -)."
	}
	done := "nothing to do here now"
	if len(r.Done) > 0 {
		var ps []string
		for _, d := range r.Done {
			ps = append(ps, fmt.Sprint(int(d.Phase)))
		}
		done = "phase " + strings.Join(ps, " and ") + " done on " + r.Node
	}
	return fmt.Sprintf("%s; run the same `etcd-harden apply --plan` on %s (each with its own plan), then here again", done, strings.Join(r.Waiting, ", "))
}

// ErrNotThisPlan: the node's etcd.yaml is none of the plan's phases.
var ErrNotThisPlan = errors.New("etcd.yaml is not one of the plan's phases")

// Apply moves the node as far as the cluster allows now, one phase at a time: each
// phase needs every member at least at the phase before and the cluster healthy; it
// writes the phase's files (rollout.Apply: backups, this member's health, rollback),
// then waits for the whole cluster to be healthy with this member caught up, and rolls
// the node back when it is not. It stops when the node must wait for others (Report.
// Waiting) or the cluster is done.
func Apply(ctx context.Context, in Input, o Options, progress func(Event)) (*Report, error) {
	start := time.Now()
	if progress == nil {
		progress = func(Event) {}
	}
	a := &applier{in: in, o: o, start: start, progress: progress}
	a.o.Layout = discover.Defaults(in.Root, o.Layout.ManifestsDir, o.Layout.PKIDir)
	rep := &Report{Node: in.Node}
	defer func() { rep.Elapsed = time.Since(start) }()
	var busy time.Time // since when another node holds the rollout lock
	for {
		f, err := cluster.Observe(ctx, a.access())
		if err != nil {
			return rep, fmt.Errorf("read the cluster's member list: %w; nothing was written", err)
		}
		rep.Facts = f
		me := f.Member(in.Node)
		if me == nil {
			return rep, fmt.Errorf("the cluster has no started member named %s (the plan's etcd.yaml --name); members: %s", in.Node, names(f))
		}
		disk, err := os.ReadFile(filepath.Join(in.Root, filepath.FromSlash(in.Etcd)))
		if err != nil {
			return rep, err
		}
		onDisk := in.Manifests.Of(disk)
		if onDisk < 0 {
			return rep, fmt.Errorf("%s is none of the plan's phases: it changed since the plan was made; plan again: %w", in.Etcd, ErrNotThisPlan)
		}
		mine := me.Phase()
		rep.Phase = mine
		next := mine + 1
		switch {
		case me.PeerTLS && onDisk == 1:
			next = cluster.PhasePeerTLS // an apply stopped after the member update: finish it
		case mine > 0 && cluster.Phase(onDisk) == mine && !a.filesDone(mine):
			// An apply stopped after etcd.yaml and before the rest (kube-apiserver.yaml):
			// write the rest now; etcd is not restarted.
			if err := a.finishFiles(ctx, mine); err != nil {
				return rep, err
			}
			rep.Done = append(rep.Done, Done{Phase: mine})
			continue
		case cluster.Phase(onDisk) > mine:
			// The files are ahead of the member: it is restarting, or a gate was cut short.
			a.emit(mine, fmt.Sprintf("etcd.yaml is at phase %d, the member shows phase %s: waiting for it", onDisk, mine))
			if err := a.waitShows(ctx, cluster.Phase(onDisk)); err != nil {
				return rep, err
			}
			continue
		case mine == cluster.PhaseMutualTLS:
			rep.Waiting = f.Behind(cluster.PhaseMutualTLS)
			return rep, nil
		case mine > f.MinPhase():
			rep.Waiting = f.Behind(mine)
			return rep, nil
		}
		if p := f.Problem(); p != "" {
			a.emit(mine, "waiting for the whole cluster to be healthy before phase "+fmt.Sprint(int(next))+": "+p)
			if _, err := a.gate(ctx, ""); err != nil {
				return rep, fmt.Errorf("phase %d on %s needs a healthy cluster first: %w; nothing was written", next, in.Node, err)
			}
			continue
		}
		l, err := claim(ctx, f, in.Node, a.access().TLS)
		if errors.Is(err, ErrBusy) && time.Since(busySince(&busy)) < a.gateTimeout() {
			a.emit(mine, "waiting: "+err.Error())
			select {
			case <-ctx.Done():
				return rep, fmt.Errorf("phase %d on %s: %w; nothing was written", next, in.Node, ctx.Err())
			case <-time.After(time.Second):
			}
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("phase %d on %s: %w; nothing was written", next, in.Node, err)
		}
		busy = time.Time{}
		// Another node may have restarted its member between the look and the lock.
		if f2, err := cluster.Observe(ctx, a.access()); err != nil || f2.Problem() != "" || f2.MinPhase() != f.MinPhase() {
			l.release()
			continue
		}
		d, err := a.phase(ctx, next, me)
		l.release()
		if err != nil {
			return rep, err
		}
		rep.Done = append(rep.Done, d)
	}
}

type applier struct {
	in       Input
	o        Options
	start    time.Time
	progress func(Event)
}

func (a *applier) emit(p cluster.Phase, msg string) {
	a.progress(Event{Phase: p, Message: msg, Elapsed: time.Since(a.start)})
}

func (a *applier) hook(point string) {
	if a.o.Hook != nil {
		a.o.Hook(point)
	}
}

// access is how this node dials the members now: its etcd's target as its files are
// (https with kube-apiserver's client pair once phase 1 is written), then the endpoints
// seen when planning and their https twins.
func (a *applier) access() cluster.Access {
	l := a.o.Layout
	etcdYAML, _ := os.ReadFile(filepath.Join(l.ManifestsDir, discover.EtcdFile))
	apiYAML, _ := os.ReadFile(filepath.Join(l.ManifestsDir, discover.APIServerFile))
	acc := cluster.Access{}
	if t, err := rollout.TargetFor(l, etcdYAML, apiYAML); err == nil {
		acc.Endpoints = append(acc.Endpoints, t.Endpoint)
		if t.TLS() {
			if cfg, err := t.Conn().ClientConfig(); err == nil {
				acc.TLS = cfg.TLS
			}
		}
	}
	for _, ep := range a.in.Endpoints {
		if acc.TLS != nil {
			acc.Endpoints = append(acc.Endpoints, strings.Replace(ep, "http://", "https://", 1))
		}
		acc.Endpoints = append(acc.Endpoints, ep)
	}
	return acc
}

func (a *applier) gate(ctx context.Context, catchUp string) (*cluster.Facts, error) {
	return cluster.Gate(ctx, cluster.GateOptions{
		Timeout: a.o.GateTimeout, CatchUp: catchUp, Access: a.access,
		Progress: func(_ time.Duration, problem string) { a.emit(-1, "gate: "+problem) },
	})
}

// phase moves this node to phase next: the files, the member update for phase 2, the
// restart, the gate; a failed gate rolls the node back.
func (a *applier) phase(ctx context.Context, next cluster.Phase, me *cluster.Member) (Done, error) {
	d := Done{Phase: next}
	sub, err := a.subPlan(next)
	if err != nil {
		return d, err
	}
	a.emit(next, fmt.Sprintf("phase %s on %s: %d files", next, a.in.Node, len(sub.Changes)))
	updated := false
	if next == cluster.PhasePeerTLS && !me.PeerTLS {
		if err := a.memberUpdate(ctx, me.ID, a.in.Manifests.PeerURLs(2)); err != nil {
			return d, fmt.Errorf("phase 2 on %s: move its peer URL to https in the member list: %w; nothing was written", a.in.Node, err)
		}
		updated = true
		a.emit(next, "member list: "+a.in.Node+"'s peer URL is now "+strings.Join(a.in.Manifests.PeerURLs(2), ","))
		a.hook("phase 2: member updated")
	}
	undoUpdate := func() error {
		if !updated && next != cluster.PhasePeerTLS {
			return nil
		}
		return a.memberUpdate(context.WithoutCancel(ctx), me.ID, a.in.Manifests.PeerURLs(1))
	}
	t0 := time.Now()
	rep, err := rollout.Apply(ctx, sub, a.in.Root, rollout.Options{Layout: a.o.Layout, Timeout: a.o.Timeout, BackupRoot: a.o.BackupRoot, Hook: a.o.Hook},
		func(e rollout.Event) { a.emit(next, string(e.Phase)+": "+e.Message) })
	if err != nil {
		if uerr := undoUpdate(); uerr != nil {
			err = errors.Join(err, fmt.Errorf("the member list still says https for %s: %w", a.in.Node, uerr))
		}
		return d, fmt.Errorf("phase %d on %s: %w", next, a.in.Node, err)
	}
	d.Restart = time.Since(t0)
	if rep.Backup != nil {
		d.Backup = rep.Backup.Dir
	}
	a.hook(fmt.Sprintf("phase %d: written", next))
	t1 := time.Now()
	if _, err := a.gate(ctx, a.in.Node); err != nil {
		return d, a.rollback(ctx, next, rep, err, undoUpdate)
	}
	d.Gate = time.Since(t1)
	a.emit(next, fmt.Sprintf("phase %s done on %s: restart %s, cluster healthy %s later", next, a.in.Node, d.Restart.Round(100*time.Millisecond), d.Gate.Round(100*time.Millisecond)))
	return d, nil
}

// rollback puts the node's files back after a failed gate and waits for the cluster.
func (a *applier) rollback(ctx context.Context, next cluster.Phase, rep *rollout.Report, cause error, undoUpdate func() error) error {
	err := fmt.Errorf("phase %d on %s: the cluster did not become healthy after the restart: %w", next, a.in.Node, cause)
	if rep.Backup == nil {
		return err
	}
	a.emit(next, "rolling back "+a.in.Node+" from "+rep.Backup.Dir)
	if rerr := plan.Restore(a.in.Root, rep.Backup.Dir); rerr != nil {
		return fmt.Errorf("%w\nROLLBACK FAILED: %v; the originals are in %s", err, rerr, rep.Backup.Dir)
	}
	if uerr := undoUpdate(); uerr != nil {
		return fmt.Errorf("%w\nrolled back the files from %s, but the member list still says https for %s: %v", err, rep.Backup.Dir, a.in.Node, uerr)
	}
	if _, gerr := a.gate(context.WithoutCancel(ctx), a.in.Node); gerr != nil {
		return fmt.Errorf("%w\nrolled back the files from %s; the cluster is not healthy yet: %v", err, rep.Backup.Dir, gerr)
	}
	return fmt.Errorf("%w\nrolled back: %s's files are back from %s and the cluster is healthy", err, a.in.Node, rep.Backup.Dir)
}

// memberUpdate sets member id's peer URLs, asking any member that answers.
func (a *applier) memberUpdate(ctx context.Context, id uint64, peerURLs []string) error {
	acc := a.access()
	var errs []error
	for _, ep := range acc.Endpoints {
		cfg := clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second, Logger: zap.NewNop(), Context: ctx}
		if strings.HasPrefix(ep, "https://") {
			cfg.TLS = acc.TLS
		}
		c, err := clientv3.New(cfg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = c.MemberUpdate(tctx, id, peerURLs)
		cancel()
		c.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", ep, err))
	}
	return errors.Join(errs...)
}

// subPlan is the plan of phase next, against the node's files as they are now.
func (a *applier) subPlan(next cluster.Phase) (*plan.Plan, error) {
	root := a.in.Root
	p := plan.New(root)
	apiRel := a.o.Layout.Rel(filepath.Join(a.o.Layout.ManifestsDir, discover.APIServerFile))
	reason := fmt.Sprintf("cluster: phase %d of the member-by-member move to mutual TLS", next)
	for _, c := range a.in.Plan.Changes {
		switch {
		case c.Path == a.in.Etcd:
		case c.Path == a.in.EncryptionConfig && a.in.EncryptionConfig != "":
			data := c.New
			if next == cluster.PhaseClientTLS {
				ro, err := encryption.ReadsOnly(c.New)
				if err != nil {
					return nil, err
				}
				data = ro
			} else if next != cluster.PhasePeerTLS {
				continue
			}
			if err := p.Create(c.Path, data, c.Mode, c.DirMode, true, reason); err != nil {
				return nil, err
			}
		case next != cluster.PhaseClientTLS:
		case c.Dir || c.ModeOnly():
			if err := p.Chmod(c.Path, c.Mode, reason); err != nil {
				return nil, err
			}
		case c.Path == apiRel:
			if err := p.Edit(c.Path, reason, func([]byte) ([]byte, error) { return c.New, nil }); err != nil {
				return nil, err
			}
		default:
			if err := p.Create(c.Path, c.New, c.Mode, c.DirMode, c.Secret, reason); err != nil {
				return nil, err
			}
		}
	}
	if err := p.Edit(a.in.Etcd, reason, func([]byte) ([]byte, error) { return a.in.Manifests.Phases[next], nil }); err != nil {
		return nil, err
	}
	if c := a.in.Plan.Find(a.in.Etcd); c != nil && c.ModeSet && next == cluster.PhaseClientTLS {
		if err := p.Chmod(a.in.Etcd, c.Mode, reason); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// busySince returns *t, set to now when zero.
func busySince(t *time.Time) time.Time {
	if t.IsZero() {
		*t = time.Now()
	}
	return *t
}

func (a *applier) gateTimeout() time.Duration {
	if a.o.GateTimeout > 0 {
		return a.o.GateTimeout
	}
	return cluster.DefaultGateTimeout
}

// waitShows waits until this node's member shows phase p and the cluster is healthy
// with it caught up (the kubelet restarts it when it sees the new etcd.yaml).
func (a *applier) waitShows(ctx context.Context, p cluster.Phase) error {
	timeout := a.o.GateTimeout
	if timeout <= 0 {
		timeout = cluster.DefaultGateTimeout
	}
	deadline := time.Now().Add(timeout)
	for {
		f, err := a.gate(ctx, a.in.Node)
		if err != nil {
			return fmt.Errorf("%s's etcd.yaml is at phase %d but the cluster is not healthy: %w; put the backup back with `etcd-harden rollback` or fix the member", a.in.Node, p, err)
		}
		if me := f.Member(a.in.Node); me != nil && me.Phase() >= p {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s's etcd.yaml is at phase %d but its member still shows phase %s after %s: is the kubelet running? Put the backup back with `etcd-harden rollback`, or restart etcd", a.in.Node, p, f.Member(a.in.Node).Phase(), timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// leftovers are the changes of phases 1 to upTo other than etcd.yaml that the node's
// files do not show yet, each file at its latest phase.
func (a *applier) leftovers(upTo cluster.Phase) (*plan.Plan, error) {
	latest := map[string]*plan.Change{}
	var order []string
	for k := cluster.PhaseClientTLS; k <= upTo; k++ {
		sub, err := a.subPlan(k)
		if err != nil {
			return nil, err
		}
		for _, c := range sub.Changes {
			if c.Path == a.in.Etcd {
				continue
			}
			if latest[c.Path] == nil {
				order = append(order, c.Path)
			}
			latest[c.Path] = c
		}
		for _, path := range order {
			if sub.Find(path) == nil && k > cluster.PhaseClientTLS && path == a.in.EncryptionConfig {
				delete(latest, path) // at its phase-k content already
			}
		}
	}
	p := plan.New(a.in.Root)
	for _, path := range order {
		if c := latest[path]; c != nil {
			p.Changes = append(p.Changes, c)
		}
	}
	return p, nil
}

// filesDone reports whether the node's files other than etcd.yaml are as phase p leaves
// them.
func (a *applier) filesDone(p cluster.Phase) bool {
	l, err := a.leftovers(p)
	return err == nil && l.Empty()
}

// finishFiles writes the leftovers of phases up to p (with a backup), without a restart.
func (a *applier) finishFiles(ctx context.Context, p cluster.Phase) error {
	l, err := a.leftovers(p)
	if err != nil {
		return err
	}
	a.emit(p, fmt.Sprintf("phase %s: an earlier apply stopped part way; writing the %d files it left", p, len(l.Changes)))
	if _, err := rollout.Apply(ctx, l, a.in.Root, rollout.Options{Layout: a.o.Layout, Timeout: a.o.Timeout, BackupRoot: a.o.BackupRoot}, nil); err != nil {
		return fmt.Errorf("finish phase %d on %s: %w", p, a.in.Node, err)
	}
	return nil
}

func names(f *cluster.Facts) string {
	var out []string
	for _, m := range f.Members {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}
