// Package rollout applies a reviewed plan to a control-plane node safely: new files
// first, then etcd.yaml, then a wait until etcd answers over its new TLS with the new
// client certificate, then kube-apiserver.yaml. When etcd does not come back, every
// file is put back from the backup and the old etcd is waited for again.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Phase is the stage of a rollout an Event belongs to.
type Phase string

// Phases, in the order they happen ("rollback" only when something failed).
const (
	PhaseBackup   Phase = "backup"
	PhaseWrite    Phase = "write"
	PhaseWaitEtcd Phase = "wait-etcd"
	PhaseRollback Phase = "rollback"
	PhaseDone     Phase = "done"
)

// Event is one step of progress, for a spinner with elapsed time.
type Event struct {
	Phase Phase
	// Path is the file (relative to the root) or, while waiting, etcd's URL.
	Path string
	// Elapsed is the time since Apply started.
	Elapsed time.Duration
	// Message says what is happening, e.g. the last problem while waiting.
	Message string
}

// Options tune Apply.
type Options struct {
	// Layout says where the manifests are; kubeadm's layout under the root when empty.
	Layout discover.Layout
	// BackupRoot receives the backup folder; plan.DefaultBackupRoot(root) when empty.
	BackupRoot string
	// Timeout is how long etcd may take to answer after etcd.yaml changed, and again
	// after a rollback (DefaultTimeout when zero).
	Timeout time.Duration
	// Interval is the pause between health checks (DefaultInterval when zero).
	Interval time.Duration
	// Hook is passed to plan.ApplyOptions.Hook (crash tests).
	Hook func(point string)
	// Now gives the backup's time stamp; time.Now when nil.
	Now func() time.Time
}

// Report is what a successful Apply did.
type Report struct {
	// Backup is the backup of the replaced files; plan.Restore(root, Backup.Dir) undoes
	// the apply. Nil for an empty plan.
	Backup *plan.Backup
	// Written lists the files written, relative to the root, in write order.
	Written []string
	// Etcd is the etcd checked after etcd.yaml changed; zero when the plan left
	// etcd.yaml alone.
	Etcd Target
	// Health is what the passing check saw.
	Health Health
	// Waited is how long etcd took to answer.
	Waited time.Duration
	// Elapsed is the whole apply.
	Elapsed time.Duration
}

// RollbackError is returned when the apply failed after files were written: what
// failed, and what the rollback did about it.
type RollbackError struct {
	// Cause is the failure: the health wait (wraps ErrUnhealthy) or a write.
	Cause error
	// Tried is the new etcd that was checked (zero when the failure came before).
	Tried Target
	// BackupDir is the backup the files were restored from; Root is the node's root.
	BackupDir, Root string
	// RestoreErr is non-nil when the files could not all be put back.
	RestoreErr error
	// Old is the etcd as it was before, waited for after the restore (zero when
	// etcd.yaml was never written).
	Old Target
	// OldErr is non-nil when the old etcd did not answer after the restore.
	OldErr error
	// OldWasDown is true when the old etcd did not answer before the apply either.
	OldWasDown bool
}

// Error tells what happened, with the evidence and what to do.
func (e *RollbackError) Error() string {
	var b strings.Builder
	if errors.Is(e.Cause, context.Canceled) {
		fmt.Fprintf(&b, "apply cancelled: %v", e.Cause)
	} else {
		fmt.Fprintf(&b, "apply failed: %v", e.Cause)
	}
	if errors.Is(e.RestoreErr, plan.ErrDamagedBackup) {
		fmt.Fprintf(&b, "\nROLLBACK NOT DONE: no file was put back: %v", e.RestoreErr)
		fmt.Fprintf(&b, "\nOnce the copies are good again, `%s` puts the backup back.", e.rollbackCommand())
		return b.String()
	}
	if e.RestoreErr != nil {
		fmt.Fprintf(&b, "\nROLLBACK FAILED: the files could not all be put back: %v", e.RestoreErr)
		fmt.Fprintf(&b, "\nThe originals are in %s; run `%s` once the cause is fixed, or copy them back by hand.", e.BackupDir, e.rollbackCommand())
		return b.String()
	}
	if errors.Is(e.Cause, ErrUnhealthy) {
		fmt.Fprintf(&b, "\netcd's own log says why it did not answer (on a node: crictl ps -a --name etcd; crictl logs <container id>)")
	}
	fmt.Fprintf(&b, "\nrolled back: every file was restored byte for byte from %s", e.BackupDir)
	switch {
	case e.Old.Endpoint == "":
	case e.OldErr != nil:
		fmt.Fprintf(&b, "\nETCD IS DOWN: the old etcd did not come back either: %v", e.OldErr)
		if e.OldWasDown {
			fmt.Fprintf(&b, "\n(it did not answer before the apply either)")
		}
		fmt.Fprintf(&b, "\nThe files are back as they were (backup %s). Check the kubelet and etcd's logs (crictl ps -a; crictl logs <etcd container>); `%s` puts the backup back again.", e.BackupDir, e.rollbackCommand())
	default:
		fmt.Fprintf(&b, "\netcd answers again on %s as before", e.Old.Endpoint)
	}
	return b.String()
}

// rollbackCommand is the command that puts the backup back.
func (e *RollbackError) rollbackCommand() string {
	if e.Root == "" || e.Root == "/" {
		return "etcd-harden rollback " + e.BackupDir
	}
	return "etcd-harden rollback --root " + e.Root + " " + e.BackupDir
}

// Unwrap returns the cause and the rollback's own errors.
func (e *RollbackError) Unwrap() []error {
	out := []error{e.Cause}
	for _, err := range []error{e.RestoreErr, e.OldErr} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Apply writes p to the node under root in a safe order and checks etcd on the way:
// new files first (keys, certificates, an encryption config), then other replaced
// files, then etcd.yaml; then it waits until etcd answers over the new settings with
// the client pair kube-apiserver will use (see TargetFor); then kube-apiserver.yaml.
// Before anything is written it refuses a plan whose new etcd could not be checked.
//
// When a write or the wait fails, every file is put back from the backup with
// plan.Restore, the old etcd is waited for on its old URL, and a *RollbackError says
// what happened. An error before the backup means nothing was written.
func Apply(ctx context.Context, p *plan.Plan, root string, o Options, progress func(Event)) (*Report, error) {
	start := time.Now()
	if progress == nil {
		progress = func(Event) {}
	}
	emit := func(ph Phase, path, msg string) {
		progress(Event{Phase: ph, Path: path, Elapsed: time.Since(start), Message: msg})
	}
	root, err := sameRoot(p, root)
	if err != nil {
		return nil, err
	}
	if o.Layout.Root == "" {
		o.Layout.Root = root
	}
	o.Layout = discover.Defaults(o.Layout.Root, o.Layout.ManifestsDir, o.Layout.PKIDir)
	if p.Empty() {
		emit(PhaseDone, "", "nothing to change")
		return &Report{Elapsed: time.Since(start)}, nil
	}
	r := &rollout{p: p, root: root, o: o, emit: emit}
	if err := r.prepare(ctx); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("%w before anything was written; nothing was written", cancelled(ctx))
	}
	rep := &Report{Etcd: r.newEtcd}
	ordered := &plan.Plan{Root: p.Root, Changes: r.order()}
	b, err := ordered.Apply(plan.ApplyOptions{
		BackupRoot: o.BackupRoot,
		Now:        o.Now,
		Hook:       r.hook,
		AfterWrite: func(c *plan.Change) error {
			rep.Written = append(rep.Written, c.Path)
			emit(PhaseWrite, c.Path, "written")
			if c == r.etcd {
				r.etcdWritten = true
			}
			if ctx.Err() != nil {
				return cancelled(ctx)
			}
			if c != r.etcd {
				return nil
			}
			h, waited, err := r.waitNew(ctx)
			rep.Health, rep.Waited = h, waited
			return err
		},
	})
	rep.Backup = b
	if err != nil {
		if b == nil {
			return nil, err // checked before writing: nothing changed
		}
		return nil, r.rollback(ctx, b, err)
	}
	rep.Elapsed = time.Since(start)
	emit(PhaseDone, b.Dir, fmt.Sprintf("%d files written", len(rep.Written)))
	return rep, nil
}

// rollout is one Apply in progress.
type rollout struct {
	p    *plan.Plan
	root string
	o    Options
	emit func(ph Phase, path, msg string)

	etcd, api   *plan.Change // the manifests' changes, nil when not planned
	newEtcd     Target
	oldEtcd     Target
	oldStarted  time.Time // start time of the etcd running before, when known
	newStarted  time.Time // start time of the new etcd once it answered
	oldDown     bool      // the old etcd did not answer before the change
	etcdWritten bool
}

func sameRoot(p *plan.Plan, root string) (string, error) {
	if root == "" {
		root = p.Root
	}
	a, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	b, err := filepath.Abs(p.Root)
	if err != nil {
		return "", err
	}
	if a != b {
		return "", fmt.Errorf("the plan is for files under %s, not %s; nothing was written", b, a)
	}
	return a, nil
}

// prepare finds the manifests' changes and works out how to check etcd before and
// after, refusing a plan whose new etcd could not be checked.
func (r *rollout) prepare(ctx context.Context) error {
	etcdRel := r.o.Layout.Rel(filepath.Join(r.o.Layout.ManifestsDir, discover.EtcdFile))
	apiRel := r.o.Layout.Rel(filepath.Join(r.o.Layout.ManifestsDir, discover.APIServerFile))
	r.etcd, r.api = r.p.Find(etcdRel), r.p.Find(apiRel)
	if r.etcd != nil && r.etcd.ModeOnly() {
		r.etcd = nil // a new mode does not restart etcd: nothing to wait for
	}
	if r.etcd == nil {
		return nil // etcd keeps running as it is: nothing to wait for
	}
	oldAPI, newAPI, err := r.apiserverYAML(apiRel)
	if err != nil {
		return err
	}
	r.newEtcd, err = TargetFor(r.o.Layout, r.etcd.New, newAPI)
	if err != nil {
		return fmt.Errorf("the planned %s: %w; nothing was written", etcdRel, err)
	}
	if err := r.newEtcd.checkFiles(r.p, r.root); err != nil {
		return fmt.Errorf("%w; nothing was written", err)
	}
	old := r.etcd.Old
	if !r.etcd.Existed {
		return nil
	}
	if r.oldEtcd, err = TargetFor(r.o.Layout, old, oldAPI); err != nil {
		r.oldEtcd = Target{}
		return nil // the old etcd cannot be checked; the rollback only restores files
	}
	r.emit(PhaseWaitEtcd, r.oldEtcd.Endpoint, "checking the running etcd before the change")
	if h, err := Check(ctx, r.oldEtcd); err == nil {
		r.oldStarted = h.Started
	} else {
		r.oldDown = true
		r.emit(PhaseWaitEtcd, r.oldEtcd.Endpoint, fmt.Sprintf("the running etcd does not answer before the change: %v", err))
	}
	return nil
}

// apiserverYAML returns kube-apiserver.yaml before and after the plan (nil when absent).
func (r *rollout) apiserverYAML(rel string) (old, planned []byte, err error) {
	if r.api != nil {
		return r.api.Old, r.api.New, nil
	}
	data, err := os.ReadFile(filepath.Join(r.root, filepath.FromSlash(rel)))
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("read %s: %w", rel, err)
	}
	return data, data, nil
}

// order puts etcd.yaml after every other change and kube-apiserver.yaml after it, so
// that the apiserver is pointed at etcd's new TLS only once etcd answers there.
// plan.Apply writes new files before replaced ones, keeping this order otherwise.
func (r *rollout) order() []*plan.Change {
	out := make([]*plan.Change, 0, len(r.p.Changes))
	for _, c := range r.p.Changes {
		if c != r.etcd && c != r.api {
			out = append(out, c)
		}
	}
	for _, c := range []*plan.Change{r.etcd, r.api} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

// hook turns plan.Apply's write points into events, then calls the caller's hook.
func (r *rollout) hook(point string) {
	kind, p, _ := strings.Cut(point, " ")
	switch kind {
	case "backup:copy":
		r.emit(PhaseBackup, p, "copying the current file")
	case "backup:index":
		r.emit(PhaseBackup, "", "backup complete")
	}
	if r.o.Hook != nil {
		r.o.Hook(point)
	}
}

// waitNew waits for etcd to answer over the planned settings.
func (r *rollout) waitNew(ctx context.Context) (Health, time.Duration, error) {
	start := time.Now()
	r.emit(PhaseWaitEtcd, r.newEtcd.Endpoint, "waiting for etcd to restart with the new settings")
	h, err := Wait(ctx, r.newEtcd, WaitOptions{
		Timeout: r.o.Timeout, Interval: r.o.Interval, Replaces: r.oldStarted,
		Progress: func(_ time.Duration, err error) {
			r.emit(PhaseWaitEtcd, r.newEtcd.Endpoint, err.Error())
		},
	})
	if err != nil && ctx.Err() != nil {
		// Interrupted: the wait was stopped, etcd was not found wanting.
		return h, time.Since(start), fmt.Errorf("%w while waiting %s for etcd on %s to answer", cancelled(ctx), time.Since(start).Round(time.Second), r.newEtcd.Endpoint)
	}
	if err != nil {
		return h, time.Since(start), err
	}
	r.newStarted = h.Started
	r.emit(PhaseWaitEtcd, r.newEtcd.Endpoint, fmt.Sprintf("etcd %s answers (%s)", h.Version, members(h.Members)))
	return h, time.Since(start), nil
}

// rollback restores every file from b and waits for the old etcd when etcd.yaml was
// written. cause is what made the apply fail.
func (r *rollout) rollback(ctx context.Context, b *plan.Backup, cause error) error {
	e := &RollbackError{Cause: cause, BackupDir: b.Dir, Root: r.root}
	if r.etcdWritten {
		e.Tried = r.newEtcd
	}
	r.emit(PhaseRollback, b.Dir, "putting every file back from the backup")
	if err := plan.Restore(r.root, b.Dir); err != nil {
		e.RestoreErr = err
		return e
	}
	if !r.etcdWritten || r.oldEtcd.Endpoint == "" {
		return e
	}
	e.Old, e.OldWasDown = r.oldEtcd, r.oldDown
	r.emit(PhaseRollback, r.oldEtcd.Endpoint, "files restored; waiting for the old etcd")
	// The rollback runs to its end even when the user interrupted the wait.
	_, e.OldErr = Wait(context.WithoutCancel(ctx), r.oldEtcd, WaitOptions{
		Timeout: r.o.Timeout, Interval: r.o.Interval, Replaces: r.newStarted,
		Progress: func(_ time.Duration, err error) {
			r.emit(PhaseRollback, r.oldEtcd.Endpoint, err.Error())
		},
	})
	if e.OldErr == nil {
		r.emit(PhaseRollback, r.oldEtcd.Endpoint, "the old etcd answers again")
	}
	return e
}

// cancelled is the error of an interrupted apply (Ctrl-C, SIGTERM): it wraps ctx's
// error, so that callers see context.Canceled (exit code 130), and never etcd's health.
func cancelled(ctx context.Context) error {
	return fmt.Errorf("interrupted (%w)", context.Cause(ctx))
}

func members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}
