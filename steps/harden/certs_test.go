package harden

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// TestCertFilesReplay: the certificates are made once; every Plan adds the same files
// (the same bytes, each reason kept) and gives the same result as PlanCerts, which
// makes them in the same call.
func TestCertFilesReplay(t *testing.T) {
	root := unhardened(t)
	s := load(t, root)
	now := time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)
	made, err := MakeCerts(s, certs.Discover(s), Options{Now: now})
	must(t, err)
	if made.Generated == nil || len(made.files) == 0 {
		t.Fatalf("nothing generated on an unhardened node: %+v", made)
	}
	var plans []*plan.Plan
	for range 2 {
		p := plan.New(root)
		cr, err := made.Plan(p, s)
		must(t, err)
		if certs.Failed(cr.After) || cr.Generated != made.Generated {
			t.Fatalf("result: %+v", cr)
		}
		plans = append(plans, p)
	}
	if !bytes.Equal(plans[0].Patch(), plans[1].Patch()) {
		t.Error("two replays of the same certificates differ")
	}
	for _, f := range made.files {
		c := plans[1].Find(f.Path)
		if c == nil || !bytes.Equal(c.New, f.New) || !slices.Equal(c.Reasons, f.Reasons) {
			t.Errorf("%s: not replayed as made: %+v", f.Path, c)
		}
	}
	// PlanCerts makes new keys, so compare what does not depend on them.
	p := plan.New(root)
	cr, err := PlanCerts(p, s, Options{Now: now})
	must(t, err)
	if len(p.Changes) != len(plans[0].Changes) || !slices.Equal(cr.Generated.Issued, made.Generated.Issued) {
		t.Errorf("PlanCerts plans %d changes, the replay %d", len(p.Changes), len(plans[0].Changes))
	}
}

// TestReplayKeepsReasons: a generated file with several reasons keeps each of them.
func TestReplayKeepsReasons(t *testing.T) {
	root := unhardened(t)
	f := &plan.Change{Path: "etc/kubernetes/pki/etcd/x.crt", New: []byte("x"), Mode: 0o644, DirMode: 0o700,
		Reasons: []string{"first; with a semicolon", "second"}}
	p := plan.New(root)
	must(t, replay(p, f))
	if c := p.Find(f.Path); c == nil || !slices.Equal(c.Reasons, f.Reasons) {
		t.Fatalf("reasons: %+v", c)
	}
}

// TestCertFilesRefusals: failing checks come back as a *CheckError holding the checks,
// so that the wizard can show them.
func TestCertFilesRefusals(t *testing.T) {
	root := unhardened(t)
	s := load(t, root)
	made, err := MakeCerts(s, certs.Discover(s), Options{Certs: CertsExisting})
	must(t, err)
	if made.Generated != nil || len(made.files) != 0 {
		t.Fatal("mode existing generated files")
	}
	p := plan.New(root)
	_, err = made.Plan(p, s)
	var ce *CheckError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCertsFailing) || !slices.Equal(ce.Checks, made.Before) {
		t.Fatalf("err = %v", err)
	}
	if !p.Empty() {
		t.Error("a refused plan has changes")
	}
	if _, err := MakeCerts(s, certs.Discover(s), Options{Certs: "sometimes"}); err == nil {
		t.Error("an unknown mode is made")
	}
}

// TestPlanWithModes: the certificates and then the file modes, as Build plans them.
func TestPlanWithModes(t *testing.T) {
	root := unhardened(t)
	must(t, os.Chmod(filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml"), 0o644))
	s := load(t, root)
	made, err := MakeCerts(s, certs.Discover(s), Options{})
	must(t, err)
	audits := audit.Run(s, audit.Options{})
	with, want := plan.New(root), plan.New(root)
	_, err = made.PlanWithModes(with, s, audits)
	must(t, err)
	cr, err := made.Plan(want, s)
	must(t, err)
	must(t, PlanModes(want, s, audits, cr.After))
	if c := with.Find("etc/kubernetes/manifests/kube-apiserver.yaml"); c == nil || c.Mode != 0o600 {
		t.Errorf("kube-apiserver.yaml is not made 0600: %+v", c)
	}
	if !slices.EqualFunc(with.FileDiffs(), want.FileDiffs(), func(a, b plan.FileDiff) bool {
		return a.Path == b.Path && a.Mode == b.Mode && slices.Equal(a.Reasons, b.Reasons)
	}) {
		t.Errorf("PlanWithModes differs from Plan then PlanModes:\n%s\n---\n%s", with.Patch(), want.Patch())
	}
}

func TestPairNames(t *testing.T) {
	if got := leafPairs; !slices.Equal(got, []string{certs.PairServer, certs.PairPeer, certs.PairHealthcheck, certs.PairAPIServer}) {
		t.Errorf("leafPairs = %v", got)
	}
}
