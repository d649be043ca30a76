package summary

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// testNow is the time of every plan, certificate and backup in the goldens.
var testNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// pkgDir is this package's folder; tests move into a temp folder so that the node's
// root is the short relative path "node" in every view.
var pkgDir, _ = os.Getwd()

// newSession reads the node under root and plans with the wizard's own planners, the
// certificates issued at now.
func newSession(t *testing.T, root string, now time.Time, answers map[string]string) *step.Session {
	t.Helper()
	s := steptest.Session(t, root, answers)
	s.Checks = audit.Run(s.State, audit.Options{})
	o := harden.Options{Now: now}
	must(t, s.SetPlanner("encryption", func(p *plan.Plan) error {
		res, err := harden.PlanEncryption(p, s.State, o)
		if err == nil {
			s.Encryption = res
		}
		return err
	}))
	must(t, s.SetPlanner("certs", func(p *plan.Plan) error {
		res, err := harden.PlanCerts(p, s.State, o)
		if err == nil {
			s.Certs = res
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
	if s.Review == nil {
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

// savePlan is ui's, which this package's tests cannot import.
var savePlan = steptest.SavePlan(testNow)

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
