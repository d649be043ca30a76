package review

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// testNow is the time of every plan and backup, so that key names, certificate dates
// and backup folders are the same in every run.
var testNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

// pkgDir is this package's folder; tests move into a temp folder so that the node's
// root is the short relative path "node" in every view.
var pkgDir, _ = os.Getwd()

// newSession reads the node under root and plans with the wizard's own planners.
func newSession(t *testing.T, root string, answers map[string]string) *step.Session {
	t.Helper()
	s := steptest.Session(t, root, answers)
	s.Checks = audit.Run(s.State, audit.Options{})
	o := harden.Options{Now: testNow}
	must(t, s.SetPlanner("encryption", func(p *plan.Plan) error {
		res, err := harden.PlanEncryption(p, s.State, o)
		if err == nil && res.Action != encryption.ActionKept {
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

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// applyFiles is the wizard's apply without the wait for etcd (tested in steps/rollout):
// the real plan.Apply under the session's root, with backups, one line per phase.
func applyFiles(_ context.Context, s *step.Session, progress func(string)) (string, error) {
	progress("backing up the files it replaces")
	b, err := s.Plan.Apply(plan.ApplyOptions{
		Now: func() time.Time { return testNow },
		AfterWrite: func(c *plan.Change) error {
			progress("wrote /" + c.Path)
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	progress("done")
	return b.Dir, nil
}

// savePlan is ui's, which this package's tests cannot import.
var savePlan = steptest.SavePlan(testNow)

// newDriver runs m's Init as the shell would; a command may take 20s.
func newDriver(t *testing.T, m *Step, s *step.Session) *steptest.Driver {
	t.Helper()
	d := &steptest.Driver{T: t, Step: m, Session: s, Wait: 20 * time.Second}
	d.Run(m.Init(s))
	return d
}
