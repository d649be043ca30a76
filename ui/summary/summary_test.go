package summary

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// reviewed returns a session whose review step did action (apply or save into
// ./plan) with the real plan of an unhardened node, and the summary step for it,
// built at testNow.
func reviewed(t *testing.T, action string) (*Step, *step.Session) {
	t.Helper()
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), testNow, map[string]string{review.AnswerAction: action, review.AnswerDir: "plan"})
	runReview(t, s, applyFiles)
	m := New()
	if errs := steptest.Drive(t, m, s, m.Init(s)); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	m.summary = Build(s, testNow) // Init counts the days to the certificates' end from today
	return m, s
}

func TestBuildApplied(t *testing.T) {
	_, s := reviewed(t, review.ActionApply)
	sum := Build(s, testNow)
	if sum.Title != "The node is hardened" {
		t.Errorf("title %q", sum.Title)
	}
	modes := map[string]string{}
	for _, f := range sum.Written {
		modes[f.Key] = f.Value
	}
	res := s.Review
	if len(sum.Written) != len(res.Written) || len(modes) != 13 {
		t.Errorf("written %d files, want the 13 of the plan: %v", len(sum.Written), sum.Written)
	}
	for path, mode := range map[string]string{
		"/etc/kubernetes/enc/encryption-config.yaml":    "0600",
		"/etc/kubernetes/pki/etcd/ca.key":               "0600",
		"/etc/kubernetes/pki/etcd/ca.crt":               "0644",
		"/etc/kubernetes/pki/apiserver-etcd-client.key": "0600",
		"/etc/kubernetes/manifests/etcd.yaml":           "0600",
	} {
		if modes[path] != mode {
			t.Errorf("%s: mode %q, want %s", path, modes[path], mode)
		}
	}
	// Every file the summary lists is on disk with that mode.
	for path, mode := range modes {
		info, err := os.Stat(filepath.Join(s.Layout.Root, path))
		if err != nil {
			t.Error(err)
		} else if got := fmt.Sprintf("%04o", info.Mode().Perm()); got != mode {
			t.Errorf("%s is %s on disk, the summary says %s", path, got, mode)
		}
	}

	enc := s.Encryption
	checkTodo(t, sum.Todo, enc, true)
	if len(sum.Notes) != 1 || !strings.Contains(sum.Notes[0], res.BackupDir) ||
		!strings.Contains(sum.Notes[0], "etcd-harden rollback "+res.BackupDir) {
		t.Errorf("notes %q lack the backup folder %s", sum.Notes, res.BackupDir)
	}
}

// checkTodo checks what is left to the user, in order: the restart order, the
// encryption step's remaining steps (restart, Secret rewrite), the key backup, and
// the date to renew the certificates before.
func checkTodo(t *testing.T, todo []string, enc *encryption.Result, applied bool) {
	t.Helper()
	first := 0
	if !applied {
		if !strings.HasPrefix(todo[0], "Review changes.patch and REVIEW.md, then run etcd-harden apply --plan ") {
			t.Errorf("a saved plan's first step is %q", todo[0])
		}
		first = 1
	}
	if !strings.Contains(todo[first], "etcd first") || !strings.Contains(todo[first], "then restart kube-apiserver") {
		t.Errorf("step %d is not the restart order: %q", first+1, todo[first])
	}
	at := slices.Index(todo, enc.RemainingSteps[0])
	if at != first+1 || !slices.Equal(todo[at:at+len(enc.RemainingSteps)], enc.RemainingSteps) {
		t.Errorf("the encryption step's remaining steps are not all there, in order, after the restart order:\n%s", strings.Join(todo, "\n"))
	}
	rewrite := slices.IndexFunc(todo, func(s string) bool {
		return strings.Contains(s, "kubectl get secrets --all-namespaces -o json | kubectl replace -f -")
	})
	if rewrite < 0 {
		t.Error("no step rewrites the Secrets")
	}
	backup := slices.IndexFunc(todo, func(s string) bool {
		return strings.HasPrefix(s, "Back up the encryption config (/etc/kubernetes/enc/encryption-config.yaml) offsite")
	})
	if backup < rewrite {
		t.Errorf("the key backup (step %d) is missing or before the rewrite (step %d)", backup+1, rewrite+1)
	}
	if want := "Renew the etcd certificates before 2027-01-15 (server expires first, in 365 days)."; todo[len(todo)-1] != want {
		t.Errorf("last step %q, want %q", todo[len(todo)-1], want)
	}
}

func TestBuildSaved(t *testing.T) {
	_, s := reviewed(t, review.ActionSave)
	sum := Build(s, testNow)
	res := s.Review
	if sum.Title != "The plan is saved for review" || len(sum.Written) != 0 {
		t.Errorf("title %q, written %v", sum.Title, sum.Written)
	}
	if want := []string{"Review: " + filepath.Join(res.SavedDir, "REVIEW.md"),
		"Apply it later on this node: etcd-harden apply --plan " + res.SavedDir}; !slices.Equal(sum.Notes, want) {
		t.Errorf("notes %q, want %q", sum.Notes, want)
	}
	// The certificates are only in the plan: their end date is read from it.
	checkTodo(t, sum.Todo, s.Encryption, false)
	if _, err := os.Stat(filepath.Join(res.SavedDir, "REVIEW.md")); err != nil {
		t.Error(err)
	}
}

// TestBuildNothingWritten: the plan was left alone, so its follow-up steps (restart,
// Secret rewrite, key backup) are not the user's to do.
func TestBuildNothingWritten(t *testing.T) {
	_, s := reviewed(t, review.ActionNone)
	sum := Build(s, testNow)
	if sum.Title != "Nothing was written" || len(sum.Written) != 0 || len(sum.Notes) != 0 {
		t.Errorf("summary %+v", sum)
	}
	want := []string{
		"Nothing on this node changed. When you are ready, run etcd-harden again, or etcd-harden plan --out DIR to review the changes as a patch first.",
		"Prove a backup works before you need it: etcd-harden snapshot test --dest /var/backups/etcd (the backup step was skipped).",
	}
	if !slices.Equal(sum.Todo, want) { // no certificate is on disk yet
		t.Errorf("todo:\n%s\nwant:\n%s", strings.Join(sum.Todo, "\n"), strings.Join(want, "\n"))
	}
}

// TestBuildHardenedAlready: a node an earlier run hardened has nothing to change; the
// summary reminds of snapshots and of the certificates' end, read from disk.
func TestBuildHardenedAlready(t *testing.T) {
	_, applied := reviewed(t, review.ActionApply)
	s := newSession(t, applied.Layout.Root, testNow, nil)
	if !s.Plan.Empty() {
		t.Fatalf("planning the hardened node again changes:\n%s", s.Plan.Patch())
	}
	sum := Build(s, testNow)
	want := []string{
		"Prove a backup works before you need it: etcd-harden snapshot test --dest /var/backups/etcd (the backup step was skipped).",
		"Renew the etcd certificates before 2027-01-15 (server expires first, in 365 days).",
	}
	if sum.Title != "Nothing was written" || !slices.Equal(sum.Todo, want) {
		t.Errorf("title %q, todo:\n%s", sum.Title, strings.Join(sum.Todo, "\n"))
	}
}

func TestNoLabNoRewrite(t *testing.T) {
	m, s := reviewed(t, review.ActionApply)
	if m.Keys() != nil {
		t.Error("w offered without a lab")
	}
	if cmd := m.Update(s, steptest.Key("w")); cmd != nil || m.rewriting {
		t.Error("w started a rewrite without a lab")
	}
	if v := m.View(step.Frame{R: plain.New(), Width: 100}); strings.Contains(v, "press w") {
		t.Errorf("the view offers w without a lab:\n%s", v)
	}
	if !m.Ready() {
		t.Error("not ready")
	}
}

// themes are the backends a view is pinned in.
var themes = []struct {
	name string
	r    render.Renderer
}{
	{"plain", plain.New()},
	{"tui-dark", tui.New(tui.ThemeFor(true))},
	{"tui-light", tui.New(tui.ThemeFor(false))},
}

// TestGolden pins the summary after an apply, a save and neither, in every backend at
// 100 and 60 columns. The saved plan's folder (a temp folder) is named PLAN.
func TestGolden(t *testing.T) {
	for _, action := range []string{review.ActionApply, review.ActionSave, review.ActionNone} {
		t.Run(action, func(t *testing.T) {
			m, s := reviewed(t, action)
			if res := s.Review; res.SavedDir != "" {
				res.SavedDir = "PLAN"
				m.summary = Build(s, testNow)
			}
			for _, th := range themes {
				for _, sz := range [][2]int{{100, 30}, {60, 20}} {
					var b bytes.Buffer
					w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.TrueColor}
					_, _ = w.WriteString(m.View(step.Frame{R: th.r, Width: sz[0], Height: sz[1], Dark: th.name != "tui-light"}))
					t.Run(fmt.Sprintf("%s_%dx%d", th.name, sz[0], sz[1]), func(t *testing.T) {
						t.Chdir(pkgDir)
						golden.RequireEqual(t, b.Bytes())
					})
				}
			}
		})
	}
}

// TestLabRewrite hardens a real lab (etcd from the test binary) with the wizard's
// planners and apply, then presses w in the summary: every Secret is rewritten through
// the new encryption config, and the view shows the status before and after.
func TestLabRewrite(t *testing.T) {
	l := startLab(t, 20, 5)
	root := l.Root()
	s := newSession(t, root, time.Now(), map[string]string{review.AnswerAction: review.ActionApply})
	s.Lab = l

	// Before the review, nothing was applied: the lab offers no rewrite yet.
	m := New()
	steptest.Drive(t, m, s, m.Init(s))
	if m.Keys() != nil || strings.Contains(m.View(step.Frame{R: plain.New()}), "press w") {
		t.Fatal("w offered before the plan was applied")
	}

	runReview(t, s, func(ctx context.Context, s *step.Session, _ func(string)) (string, error) {
		rep, err := rollout.Apply(ctx, s.Plan, s.Layout.Root, rollout.Options{Layout: s.Layout, Timeout: 30 * time.Second}, nil)
		if err != nil {
			return "", err
		}
		return rep.Backup.Dir, nil
	})

	m = New()
	if cmd := m.Init(s); cmd != nil {
		t.Fatal("the rewrite started without being asked")
	}
	f := step.Frame{R: plain.New(), Width: 100}
	if len(m.Keys()) != 1 || m.Keys()[0].Help().Key != "w" || !strings.Contains(m.View(f), "press w") {
		t.Fatalf("w not offered after the apply in the lab:\n%s", m.View(f))
	}
	cmd := m.Update(s, steptest.Key("w"))
	if cmd == nil || !m.rewriting || m.Ready() {
		t.Fatal("w did not start the rewrite")
	}
	if m.Keys() != nil || m.Update(s, steptest.Key("w")) != nil {
		t.Error("w offered or started again while the rewrite runs")
	}
	if v := m.View(f); !strings.Contains(v, "Rewriting every Secret") {
		t.Errorf("the view does not say it is rewriting:\n%s", v)
	}
	if errs := steptest.Drive(t, m, s, cmd); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if !m.Ready() || m.Keys() != nil {
		t.Error("not ready, or w still offered, after the rewrite")
	}

	seeded := l.Seeded()
	enc := s.Encryption
	secrets := func(r *encryption.StatusReport) encryption.ResourceStatus {
		for _, rs := range r.Resources {
			if rs.Resource == "secrets" {
				return rs
			}
		}
		t.Fatalf("no secrets in %+v", r)
		return encryption.ResourceStatus{}
	}
	if b := secrets(m.before); b.Total != seeded.Secrets || b.Plaintext != seeded.Secrets || b.Encrypted != 0 {
		t.Errorf("before: %+v, want %d Secrets in plaintext", b, seeded.Secrets)
	}
	a := secrets(m.after)
	if a.Total != seeded.Secrets || a.Encrypted != seeded.Secrets || a.Plaintext != 0 {
		t.Errorf("after: %+v, want all %d Secrets encrypted", a, seeded.Secrets)
	}
	wantKey := string(enc.Provider) + ":" + enc.KeyName
	if len(a.Keys) != 1 || a.Keys[0].ID != wantKey {
		t.Errorf("after: keys %+v, want only %s", a.Keys, wantKey)
	}
	// The config covers Secrets only: ConfigMaps stay as they were.
	if m.after.Plaintext != seeded.ConfigMaps {
		t.Errorf("after: %d values in plaintext, want the %d ConfigMaps", m.after.Plaintext, seeded.ConfigMaps)
	}

	v := m.View(f)
	total := seeded.Secrets + seeded.ConfigMaps
	for _, want := range []string{
		"before: " + fmt.Sprintf("%d values: 0 encrypted, %d plaintext", total, total),
		"after: " + fmt.Sprintf("%d values: %d encrypted, %d plaintext (%s ×%d)", total, seeded.Secrets, seeded.ConfigMaps, wantKey, seeded.Secrets),
		lab.RewriteNote[:len("the lab has no kube-apiserver")],
	} {
		if !strings.Contains(v, want) {
			t.Errorf("the view lacks %q:\n%s", want, v)
		}
	}

	// With the answer given, the rewrite runs on Init (a scripted run); everything is
	// encrypted already.
	s.Answers[AnswerRewrite] = "true"
	m2 := New()
	cmd = m2.Init(s)
	if cmd == nil {
		t.Fatal("summary.rewrite=true did not start the rewrite")
	}
	if errs := steptest.Drive(t, m2, s, cmd); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if b := secrets(m2.before); b.Encrypted != seeded.Secrets {
		t.Errorf("second rewrite, before: %+v", b)
	}
}
