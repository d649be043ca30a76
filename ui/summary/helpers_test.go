package summary

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// testNow is the time of every plan, certificate and backup in the goldens.
var testNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

var order = []string{"preflight", "encryption", "certs", "review", "backup", "summary"}

// pkgDir is this package's folder; tests move into a temp folder so that the node's
// root is the short relative path "node" in every view.
var pkgDir, _ = os.Getwd()

// nodeRoot lays out a kubeadm-like root "node" (relative to a new temp working folder)
// holding the shared unhardened manifests.
func nodeRoot(t *testing.T) string {
	t.Helper()
	src := filepath.Join(pkgDir, "..", "..", "testdata", "manifests", "unhardened")
	t.Chdir(t.TempDir())
	root := "node"
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "var", "lib", "etcd"), 0o700))
	for _, name := range []string{discover.EtcdFile, discover.APIServerFile} {
		data, err := os.ReadFile(filepath.Join(src, name))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	return root
}

// newSession reads the node under root and plans with the wizard's own planners, the
// certificates issued at now.
func newSession(t *testing.T, root string, now time.Time, answers map[string]string) *step.Session {
	t.Helper()
	layout := discover.Defaults(root, "", "")
	st, err := discover.Load(layout)
	must(t, err)
	s := &step.Session{Layout: layout, State: st, Checks: audit.Run(st, audit.Options{}), Plan: plan.New(root),
		Answers: answers, Values: map[string]any{}, Order: order}
	o := harden.Options{Now: now}
	must(t, s.SetPlanner("encryption", func(p *plan.Plan) error {
		res, err := harden.PlanEncryption(p, s.State, o)
		if err == nil {
			s.Put(step.ValueEncryption, res)
		}
		return err
	}))
	must(t, s.SetPlanner("certs", func(p *plan.Plan) error {
		res, err := harden.PlanCerts(p, s.State, o)
		if err == nil {
			s.Put(step.ValueCerts, res)
		}
		return err
	}))
	return s
}

// review runs the wizard's review step with its answers (as a scripted run does), so
// the session holds its real result; apply does the writing.
func runReview(t *testing.T, s *step.Session, apply review.Apply) {
	t.Helper()
	r := review.New(apply, savePlan)
	if cmd := r.Init(s); cmd != nil {
		t.Fatal("the review step has work on Init")
	}
	if err := r.RunPlain(context.Background(), s, strings.NewReader(""), io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Values[step.ValueReview].(*review.Result); !ok {
		t.Fatal("the review step left no result")
	}
}

// applyFiles is the wizard's apply without the wait for etcd: the real plan.Apply under
// the session's root, with backups.
func applyFiles(_ context.Context, s *step.Session, _ func(string)) (string, error) {
	b, err := s.Plan.Apply(plan.ApplyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		return "", err
	}
	return b.Dir, nil
}

// savePlan is ui.savePlan (ui imports this package): the plan as `plan --out` writes it.
func savePlan(s *step.Session, dir string) error {
	r := &harden.Result{State: s.State, Plan: s.Plan, Before: s.Checks, Now: testNow}
	r.Encryption, _ = s.Values[step.ValueEncryption].(*encryption.Result)
	r.Certs, _ = s.Values[step.ValueCerts].(*harden.CertsResult)
	planned, err := harden.PlannedState(s.Plan, s.State)
	if err != nil {
		return err
	}
	r.Planned = planned
	if r.After, err = harden.AuditAfter(s.Plan, s.State); err != nil {
		return err
	}
	r.Steps = harden.RemainingSteps(r)
	return harden.WriteOut(dir, r, harden.WriteOptions{})
}

// drive runs cmd and every command that follows, feeding the messages to the step; it
// returns the error views the step sent.
func drive(t *testing.T, m *Step, s *step.Session, cmd tea.Cmd) []render.Error {
	t.Helper()
	var errs []render.Error
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case step.ErrorMsg:
			errs = append(errs, msg.Err)
		default:
			queue = append(queue, m.Update(s, msg))
		}
	}
	return errs
}

func press(k string) tea.Cmd {
	return func() tea.Msg { return tea.KeyPressMsg{Code: rune(k[0]), Text: k} }
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
