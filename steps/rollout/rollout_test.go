package rollout_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// TestApplyHardensLab takes the lab's etcd from plain http to mutual TLS and checks
// that the audit then passes.
func TestApplyHardensLab(t *testing.T) {
	l := startLab(t)
	root := l.Root()
	before := currentTarget(t, root)
	if before.TLS() {
		t.Fatalf("the lab starts on %s; want http", before.Endpoint)
	}
	old := waitHealthy(t, before)

	p := hardenPlan(t, root)
	var events []rollout.Event
	rep, err := rollout.Apply(context.Background(), p, root, rollout.Options{Timeout: 30 * time.Second}, func(e rollout.Event) {
		events = append(events, e)
	})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if rep.Backup == nil || rep.Backup.Dir == "" || !strings.HasPrefix(rep.Backup.Dir, plan.DefaultBackupRoot(root)) {
		t.Fatalf("backup %+v, want one under %s", rep.Backup, plan.DefaultBackupRoot(root))
	}
	if !rep.Etcd.TLS() || rep.Etcd.Endpoint != strings.Replace(before.Endpoint, "http://", "https://", 1) {
		t.Errorf("checked %s, want %s over https", rep.Etcd.Endpoint, before.Endpoint)
	}
	if !strings.HasSuffix(rep.Etcd.CertFile, "apiserver-etcd-client.crt") {
		t.Errorf("checked with %s, want kube-apiserver's etcd client certificate", rep.Etcd.CertFile)
	}
	if rep.Health.Started.IsZero() || !rep.Health.Started.After(old.Started) {
		t.Errorf("new etcd started at %v, old at %v: want a restarted etcd", rep.Health.Started, old.Started)
	}

	// Order: new files, then etcd.yaml, then kube-apiserver.yaml last.
	n := len(rep.Written)
	if n != len(p.Changes) || rep.Written[n-2] != lab.EtcdManifest || rep.Written[n-1] != lab.APIServerFile {
		t.Errorf("written in order %v; want etcd.yaml then kube-apiserver.yaml last", rep.Written)
	}
	var phases []rollout.Phase
	for _, e := range events {
		if len(phases) == 0 || phases[len(phases)-1] != e.Phase {
			phases = append(phases, e.Phase)
		}
	}
	if !slices.Contains(phases, rollout.PhaseBackup) || !slices.Contains(phases, rollout.PhaseWaitEtcd) || phases[len(phases)-1] != rollout.PhaseDone {
		t.Errorf("phases %v; want backup, write, wait-etcd … done", phases)
	}
	apiWrite := slices.IndexFunc(events, func(e rollout.Event) bool {
		return e.Phase == rollout.PhaseWrite && e.Path == lab.APIServerFile
	})
	lastWait := -1
	for i, e := range events {
		if e.Phase == rollout.PhaseWaitEtcd {
			lastWait = i
		}
	}
	if apiWrite < lastWait {
		t.Errorf("kube-apiserver.yaml was written (event %d) before the wait for etcd ended (event %d)", apiWrite, lastWait)
	}

	// etcd answers only over TLS now, and the manifests pass the audit.
	if _, err := rollout.Check(context.Background(), before); err == nil {
		t.Errorf("etcd still answers over plain http at %s", before.Endpoint)
	}
	waitHealthy(t, currentTarget(t, root))
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range audit.Run(st, audit.Options{}) {
		if strings.HasPrefix(c.ID, "1.1.") {
			continue // file modes and owners: the test runs as one user
		}
		if c.Status != audit.Pass {
			t.Errorf("audit %s %s: %s (%s)", c.ID, c.Status, c.Detail, c.Fix)
		}
	}
}

// TestApplyWaitsForRestart changes etcd.yaml of an etcd that already serves TLS: the
// old process answers with the new settings too, so Apply must wait for a new one.
func TestApplyWaitsForRestart(t *testing.T) {
	l := startLab(t)
	root := l.Root()
	rep, err := rollout.Apply(context.Background(), hardenPlan(t, root), root, rollout.Options{Timeout: 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := plan.New(root)
	if err := p.Edit(lab.EtcdManifest, "test", func(old []byte) ([]byte, error) {
		return bytes.Replace(old, []byte("--snapshot-count=10000"), []byte("--snapshot-count=20000"), 1), nil
	}); err != nil {
		t.Fatal(err)
	}
	rep2, err := rollout.Apply(context.Background(), p, root, rollout.Options{Timeout: 30 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep2.Health.Started.After(rep.Health.Started) {
		t.Errorf("the check passed on the etcd started at %v, not on a restarted one", rep2.Health.Started)
	}
}

func TestRollbackErrorMessage(t *testing.T) {
	cause := fmt.Errorf("after writing etcd.yaml: %w on https://127.0.0.1:2379 within 2m0s; last problem: connection refused", rollout.ErrUnhealthy)
	old := rollout.Target{Endpoint: "http://127.0.0.1:2379"}
	for _, tc := range []struct {
		name string
		err  *rollout.RollbackError
		want []string
	}{
		{"old etcd back", &rollout.RollbackError{Cause: cause, BackupDir: "/b/1", Old: old},
			[]string{"connection refused", "crictl logs", "restored byte for byte from /b/1", "etcd answers again on http://127.0.0.1:2379"}},
		{"old etcd down", &rollout.RollbackError{Cause: cause, BackupDir: "/b/1", Old: old, OldErr: errors.New("timeout"), OldWasDown: true},
			[]string{"restored byte for byte", "ETCD IS DOWN", "timeout", "did not answer before the apply either", "etcd-harden rollback /b/1"}},
		{"restore failed", &rollout.RollbackError{Cause: cause, BackupDir: "/b/1", RestoreErr: errors.New("disk full")},
			[]string{"ROLLBACK FAILED", "disk full", "etcd-harden rollback /b/1"}},
		{"damaged backup", &rollout.RollbackError{Cause: cause, BackupDir: "/b/1", RestoreErr: fmt.Errorf("copy of etcd.yaml: %w", plan.ErrDamagedBackup)},
			[]string{"ROLLBACK NOT DONE: no file was put back", "copy of etcd.yaml", "etcd-harden rollback /b/1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := tc.err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
			if !errors.Is(tc.err, rollout.ErrUnhealthy) {
				t.Error("errors.Is(err, ErrUnhealthy) is false")
			}
		})
	}
}

// TestApplyRollsBackWhenEtcdFails plans a server certificate that does not match its key:
// etcd cannot start with it, so Apply must put every file back and see the old etcd.
func TestApplyRollsBackWhenEtcdFails(t *testing.T) {
	l := startLab(t)
	root := l.Root()
	before := currentTarget(t, root)
	waitHealthy(t, before)
	orig := snapshot(t, root)

	p := hardenPlan(t, root)
	keyPath := strings.TrimPrefix(filepath.ToSlash(filepath.Join(lab.EtcdPKIDir, "server.key")), "/")
	c := p.Find(keyPath)
	if c == nil {
		t.Fatalf("the plan has no %s", keyPath)
	}
	c.New = otherKey(t)

	var rollbacks int
	_, err := rollout.Apply(context.Background(), p, root, rollout.Options{Timeout: 5 * time.Second, Interval: 200 * time.Millisecond},
		func(e rollout.Event) {
			if e.Phase == rollout.PhaseRollback {
				rollbacks++
			}
		})
	var rb *rollout.RollbackError
	if !errors.As(err, &rb) {
		t.Fatalf("apply: %v; want a *RollbackError", err)
	}
	if !errors.Is(err, rollout.ErrUnhealthy) || rb.RestoreErr != nil || rb.OldErr != nil || rollbacks == 0 {
		t.Fatalf("apply: %v", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"etcd did not answer on " + rb.Tried.Endpoint, "apiserver-etcd-client.crt", "last problem:",
		"restored byte for byte from " + rb.BackupDir, "etcd answers again on " + before.Endpoint,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	t.Log(msg)
	sameTree(t, orig, snapshot(t, root))
	if _, err := rollout.Check(context.Background(), before); err != nil {
		t.Errorf("etcd does not answer on the old URL %s: %v", before.Endpoint, err)
	}
}

// otherKey is a fresh EC key in the PEM form the plan writes: it matches no certificate.
func otherKey(tb testing.TB) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// TestApplyRefusesUncheckablePlan: a plan that moves etcd to TLS while no client
// certificate exists or is planned is refused before anything is written.
func TestApplyRefusesUncheckablePlan(t *testing.T) {
	root := t.TempDir()
	l := discover.Defaults(root, "", "")
	mustWrite(t, filepath.Join(l.ManifestsDir, "etcd.yaml"), etcdYAML("http"))
	mustWrite(t, filepath.Join(l.ManifestsDir, "kube-apiserver.yaml"), apiYAML(""))
	orig := snapshot(t, root)
	p := plan.New(root)
	if err := p.Edit("etc/kubernetes/manifests/etcd.yaml", "test", func([]byte) ([]byte, error) {
		return []byte(etcdYAML("https")), nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := rollout.Apply(context.Background(), p, root, rollout.Options{}, nil)
	if !errors.Is(err, rollout.ErrNoClientCert) || !strings.Contains(err.Error(), "nothing was written") ||
		!strings.Contains(err.Error(), "healthcheck-client.crt, ") {
		t.Fatalf("apply: %v; want a refusal naming the missing client certificate", err)
	}
	sameTree(t, orig, snapshot(t, root))
	if list, _ := plan.ListBackups(plan.DefaultBackupRoot(root)); len(list) != 0 {
		t.Errorf("%d backups made for a refused plan", len(list))
	}
}

func TestApplyRefusesOtherRoot(t *testing.T) {
	p := plan.New(t.TempDir())
	_, err := rollout.Apply(context.Background(), p, t.TempDir(), rollout.Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "the plan is for files under") {
		t.Fatalf("apply: %v", err)
	}
}

func mustWrite(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestApplyCancelledRollsBack: an apply interrupted between two writes (Ctrl-C) puts
// every file back and says it was cancelled, never that etcd did not answer; the
// error is context.Canceled (exit code 130) (issue 11, weak case "interrupted apply").
func TestApplyCancelledRollsBack(t *testing.T) {
	root := t.TempDir()
	l := discover.Defaults(root, "", "")
	mustWrite(t, filepath.Join(l.ManifestsDir, "kube-apiserver.yaml"), apiYAML(""))
	orig := snapshot(t, root)
	p := plan.New(root)
	if err := p.Create("etc/kubernetes/enc/config.yaml", []byte("x: 1\n"), 0o600, 0o700, true, "test"); err != nil {
		t.Fatal(err)
	}
	if err := p.Edit("etc/kubernetes/manifests/kube-apiserver.yaml", "test", func(b []byte) ([]byte, error) {
		return append(b, "# edited\n"...), nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err := rollout.Apply(ctx, p, root, rollout.Options{Hook: func(point string) {
		if point == "write:synced etc/kubernetes/enc/config.yaml" {
			cancel() // Ctrl-C after the first file is written
		}
	}}, nil)
	var rb *rollout.RollbackError
	if !errors.As(err, &rb) || !errors.Is(err, context.Canceled) || errors.Is(err, rollout.ErrUnhealthy) {
		t.Fatalf("apply: %v; want a cancelled *RollbackError", err)
	}
	msg := err.Error()
	for _, want := range []string{"apply cancelled: after writing etc/kubernetes/enc/config.yaml: interrupted (context canceled)",
		"rolled back: every file was restored byte for byte from " + rb.BackupDir} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	for _, bad := range []string{"did not answer", "crictl"} {
		if strings.Contains(msg, bad) {
			t.Errorf("message blames etcd (%q):\n%s", bad, msg)
		}
	}
	after := snapshot(t, root)
	for k := range after {
		if strings.HasPrefix(k, "var/") {
			delete(after, k)
		}
	}
	sameTree(t, orig, after)
}
