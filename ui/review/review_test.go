package review

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// themes are the backends a view is pinned in: the plain renderer and the tui in both
// of the terminal's backgrounds.
var themes = []struct {
	name string
	dark bool
	r    render.Renderer
}{
	{"plain", true, plain.New()},
	{"tui-dark", true, tui.New(tui.ThemeFor(true))},
	{"tui-light", false, tui.New(tui.ThemeFor(false))},
}

var sizes = [][2]int{{100, 30}, {60, 20}}

// background is the message the terminal answers tea.RequestBackgroundColor with.
func background(dark bool) tea.Msg {
	if dark {
		return tea.BackgroundColorMsg{Color: color.Black}
	}
	return tea.BackgroundColorMsg{Color: color.White}
}

// counts are the line counts of the preview: a generated certificate is 10 or 11 PEM
// lines (its DER length varies with the random serial and signature).
var counts = regexp.MustCompile(`\+\d+ −\d+|of \d+`)

func hashDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '#'
		}
		return r
	}, s)
}

// goldenViews pins the step's view in every theme and size, as subtests named
// <theme>_<w>x<h>. view draws the step after the terminal reported its background.
func goldenViews(t *testing.T, d *steptest.Driver, view func(f step.Frame) string) {
	t.Helper()
	for _, th := range themes {
		d.Run(func() tea.Msg { return background(th.dark) })
		for _, sz := range sizes {
			d.Run(func() tea.Msg { return tea.WindowSizeMsg{Width: sz[0], Height: sz[1]} })
			got := counts.ReplaceAllStringFunc(steptest.TrueColor(view(step.Frame{R: th.r, Width: sz[0], Height: sz[1], Dark: th.dark})), hashDigits)
			t.Run(fmt.Sprintf("%s_%dx%d", th.name, sz[0], sz[1]), func(t *testing.T) {
				t.Chdir(pkgDir)
				golden.RequireEqual(t, []byte(got))
			})
		}
	}
	d.Run(func() tea.Msg { return background(true) })
}

func TestGoldenPreview(t *testing.T) {
	root := steptest.NodeRoot(t, "unhardened")
	s := newSession(t, root, nil)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	goldenViews(t, d, m.View)
}

func TestGoldenConfirm(t *testing.T) {
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), nil)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Press("a")
	goldenViews(t, d, m.View)
}

func TestGoldenApplied(t *testing.T) {
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), nil)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Press("a", "y")
	if !m.Ready() {
		t.Fatalf("not ready after the apply: %v", d.Errs)
	}
	goldenViews(t, d, m.View)
}

func TestGoldenSaved(t *testing.T) {
	// A relative folder, shown as the absolute path it resolves to: the temp folder's.
	// The goldens name it PLAN.
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), map[string]string{AnswerDir: "plan"})
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Press("s", "enter")
	if !m.Ready() {
		t.Fatalf("not ready after the save: %v", d.Errs)
	}
	abs, _ := filepath.Abs("plan")
	m.result.SavedDir = "PLAN"
	goldenViews(t, d, m.View)
	m.result.SavedDir = abs
}

func TestPreviewKeys(t *testing.T) {
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), nil)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Run(func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	f := step.Frame{R: plain.New(), Width: 100, Height: 30}
	first := m.View(f)
	if m.Ready() {
		t.Fatal("ready before the plan was applied, saved or left alone")
	}
	if !m.ScrollsItself() || m.CapturesKeys() {
		t.Fatal("the preview must scroll itself and leave the shell its keys")
	}
	help := map[string]bool{}
	for _, k := range m.Keys() {
		help[k.Help().Key] = true
	}
	if !help["a"] || !help["s"] || !help["tab/⇧tab"] {
		t.Errorf("help keys %v lack a, s or tab", help)
	}

	d.Press("tab")
	if m.preview.File() != 1 {
		t.Fatalf("tab went to file %d, want 1", m.preview.File())
	}
	afterTab := m.View(f)
	if afterTab == first || !strings.Contains(afterTab, "kube-apiserver.yaml") {
		t.Fatalf("tab did not move the view to kube-apiserver.yaml:\n%s", afterTab)
	}
	d.Press("n")
	if m.View(f) == afterTab {
		t.Fatal("n did not move to the next hunk")
	}
	if len(d.Errs) > 0 {
		t.Fatalf("errors: %v", d.Errs)
	}
}

func TestApplyWritesFiles(t *testing.T) {
	root := steptest.NodeRoot(t, "unhardened")
	s := newSession(t, root, nil)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Run(func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })

	d.Press("a")
	if !m.CapturesKeys() || m.ScrollsItself() {
		t.Fatal("the confirmation must have every key")
	}
	f := step.Frame{R: plain.New(), Width: 100, Height: 30}
	if v := m.View(f); !strings.Contains(v, "Apply 13 file changes under node?") || !strings.Contains(v, "Not now") {
		t.Fatalf("a did not ask before applying:\n%s", v)
	}
	var help []string
	for _, k := range m.Keys() {
		if k.Enabled() {
			help = append(help, k.Help().Key+" "+k.Help().Desc)
		}
	}
	if !slices.Contains(help, "y Apply") || !slices.Contains(help, "n Not now") || slices.Contains(help, "a apply") {
		t.Errorf("help while asking: %q, want the question's keys", help)
	}
	d.Press("left", "enter") // to "Apply", then enter
	if len(d.Errs) > 0 || !m.Ready() {
		t.Fatalf("not ready after the apply: errors %v", d.Errs)
	}

	// The files are on disk with their modes; the session reads the node again.
	for path, mode := range map[string]os.FileMode{
		"etc/kubernetes/enc/encryption-config.yaml": 0o600,
		"etc/kubernetes/pki/etcd/ca.key":            0o600,
		"etc/kubernetes/pki/etcd/server.crt":        0o644,
	} {
		info, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", path, info.Mode().Perm(), mode)
		}
	}
	if v, ok := s.State.Etcd.Flag("client-cert-auth"); !ok || v != "true" {
		t.Errorf("the session's state was not read again: etcd --client-cert-auth=%q", v)
	}

	res := s.Review
	if res == nil || res.Action != ActionApply || len(res.Written) != 13 {
		t.Fatalf("result %+v", res)
	}
	b, err := plan.ReadBackup(res.BackupDir)
	if err != nil {
		t.Fatalf("the result names no backup: %v", err)
	}
	if i := slices.IndexFunc(b.Files, func(f plan.BackupFile) bool { return f.Path == "etc/kubernetes/manifests/etcd.yaml" }); i < 0 || !b.Files[i].Existed || b.Files[i].Copy == "" {
		t.Errorf("the backup has no copy of etcd.yaml: %+v", b.Files)
	}
	v := m.View(f)
	for _, want := range []string{"13 files", res.BackupDir, "etcd-harden rollback " + res.BackupDir} {
		if !strings.Contains(v, want) {
			t.Errorf("the result view lacks %q:\n%s", want, v)
		}
	}
	if m.Keys() != nil {
		t.Error("a and s are still offered after the apply")
	}
	// Once applied, a and s do nothing.
	before := steptest.Tree(t, root)
	d.Press("a", "s")
	if m.form != nil {
		t.Fatal("a opened a question after the apply")
	}
	steptest.SameTree(t, root, before)
}

func TestApplyNotNow(t *testing.T) {
	root := steptest.NodeRoot(t, "unhardened")
	s := newSession(t, root, nil)
	before := steptest.Tree(t, root)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Run(func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	f := step.Frame{R: plain.New(), Width: 100, Height: 30}
	preview := m.View(f)

	for _, keys := range [][]string{{"a", "n"}, {"a", "enter"}} { // "Not now" is the default
		d.Press(keys...)
		if len(d.Errs) > 0 {
			t.Fatalf("%v: error view %+v", keys, d.Errs)
		}
		if m.form != nil || m.running || m.result != nil || m.Ready() {
			t.Fatalf("%v: form %v, running %v, result %+v", keys, m.form != nil, m.running, m.result)
		}
		if v := m.View(f); v != preview {
			t.Fatalf("%v: not back at the preview:\n%s", keys, v)
		}
	}
	steptest.SameTree(t, root, before)
	if s.Review != nil {
		t.Error("a result was kept though nothing was done")
	}
	// The user can still apply afterwards.
	d.Press("a", "y")
	if !m.Ready() || m.result == nil || m.result.Action != ActionApply {
		t.Fatalf("a, y after Not now did not apply: %v", d.Errs)
	}
}

func TestSaveWritesPlan(t *testing.T) {
	root := steptest.NodeRoot(t, "unhardened")
	s := newSession(t, root, nil)
	before := steptest.Tree(t, root)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Press("s")
	f := step.Frame{R: plain.New(), Width: 100, Height: 30}
	if v := m.View(f); !strings.Contains(v, "Save the plan into which folder?") || !m.CapturesKeys() {
		t.Fatalf("s did not ask for a folder:\n%s", v)
	}
	// The field holds the default; the user clears it and types a folder of their own.
	d.Press("ctrl+u")
	d.Type("plans/cp-1")
	d.Press("enter")
	if len(d.Errs) > 0 || !m.Ready() {
		t.Fatalf("not ready after the save: %v", d.Errs)
	}
	dir, _ := filepath.Abs(filepath.Join("plans", "cp-1"))
	for _, name := range []string{harden.PatchFile, harden.ReviewFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	info, err := os.Stat(filepath.Join(dir, harden.SecretsDir))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o700 {
		t.Errorf("secrets/ has mode %04o, want 0700", info.Mode().Perm())
	}
	patch, _ := os.ReadFile(filepath.Join(dir, harden.PatchFile))
	if !bytes.Equal(patch, s.Plan.Patch()) {
		t.Error("changes.patch is not the plan's patch")
	}
	steptest.SameTree(t, root, before) // saving writes nothing under the root

	res := s.Review
	if res == nil || res.Action != ActionSave || res.SavedDir != dir {
		t.Fatalf("result %+v, want save into %s", res, dir)
	}
	v := m.View(f)
	if !strings.Contains(v, dir) || !strings.Contains(v, "etcd-harden apply --plan "+dir) {
		t.Errorf("the result view does not say where the plan is:\n%s", v)
	}
}

// TestSaveRefusesUsedFolder: a folder with other files is never written into; the
// user is told which folder and can choose another.
func TestSaveRefusesUsedFolder(t *testing.T) {
	root := steptest.NodeRoot(t, "unhardened")
	used, _ := filepath.Abs("notes")
	must(t, os.MkdirAll(used, 0o755))
	must(t, os.WriteFile(filepath.Join(used, "todo.txt"), []byte("mine\n"), 0o644))
	s := newSession(t, root, map[string]string{AnswerDir: used})
	before := steptest.Tree(t, ".")
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Press("s", "enter")
	if len(d.Errs) != 1 {
		t.Fatalf("errors %+v, want one", d.Errs)
	}
	e := d.Errs[0]
	if !strings.Contains(e.What, used) || !strings.Contains(e.What, "not empty") {
		t.Errorf("the error does not name the folder and the problem: %+v", e)
	}
	if strings.Contains(e.Fix, "backup") || !strings.Contains(e.Fix, "folder") {
		t.Errorf("the fix does not fit a save: %q", e.Fix)
	}
	if m.Ready() || m.result != nil {
		t.Fatal("ready after a failed save")
	}
	steptest.SameTree(t, ".", before)

	// Another folder works.
	d.Press("s", "ctrl+u")
	d.Type("fresh")
	d.Press("enter")
	if !m.Ready() || len(d.Errs) != 1 {
		t.Fatalf("the second save failed: %+v", d.Errs)
	}
}

// TestApplyRefusesChangedNode: a manifest edited after the plan was made is not
// overwritten: the error says so and nothing is written.
func TestApplyRefusesChangedNode(t *testing.T) {
	root := steptest.NodeRoot(t, "unhardened")
	s := newSession(t, root, nil)
	etcd := filepath.Join(root, "etc", "kubernetes", "manifests", discover.EtcdFile)
	data, _ := os.ReadFile(etcd)
	must(t, os.WriteFile(etcd, append(data, "# edited by hand\n"...), 0o600))
	before := steptest.Tree(t, root)

	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	d.Press("a", "y")
	if len(d.Errs) != 1 {
		t.Fatalf("errors %+v, want one", d.Errs)
	}
	if e := d.Errs[0]; !strings.Contains(e.What, "changed after the plan was made") || !strings.Contains(e.What, "etcd.yaml") {
		t.Errorf("error %+v", e)
	}
	if m.Ready() || m.result != nil || m.running {
		t.Fatal("the step counts a failed apply as done")
	}
	steptest.SameTree(t, root, before)
}

// TestCancelWaitsForRollback: quitting while an apply runs returns only once the apply
// has stopped and put the files back.
func TestCancelWaitsForRollback(t *testing.T) {
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), nil)
	var rolledBack, returned bool
	started := make(chan struct{})
	apply := func(ctx context.Context, _ *step.Session, progress func(string)) (string, error) {
		progress("waiting for etcd")
		close(started)
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // putting the files back
		rolledBack = true
		defer func() { returned = true }()
		return "", fmt.Errorf("stopped: %w", ctx.Err())
	}
	m := New(apply, savePlan)
	d := newDriver(t, m, s)
	d.Wait, d.Abandon = 500*time.Millisecond, true
	d.Press("a", "y")
	<-started
	if !m.running || m.Ready() {
		t.Fatal("the apply is not running")
	}
	v := m.View(step.Frame{R: plain.New(), Width: 100, Height: 30})
	if !strings.Contains(v, "Applying… waiting for etcd") {
		t.Errorf("the running view does not show the phase:\n%s", v)
	}
	if m.Keys() != nil {
		t.Error("a and s are offered while applying")
	}
	m.Cancel()
	if !rolledBack || !returned {
		t.Fatal("Cancel returned before the apply had put the files back")
	}
	m.Cancel() // a second Cancel (the shell cancels every step) returns at once
}

func TestCancelWithoutWork(t *testing.T) {
	m := New(applyFiles, savePlan)
	done := make(chan struct{})
	go func() { m.Cancel(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Cancel blocks when nothing runs")
	}
}

func TestNothingToChange(t *testing.T) {
	root := steptest.NodeRoot(t, "hardened")
	s := steptest.Session(t, root, nil)
	m := New(applyFiles, savePlan)
	d := newDriver(t, m, s)
	if !m.Ready() {
		t.Fatal("not ready with nothing to change")
	}
	for _, f := range []step.Frame{{R: plain.New(), Width: 100, Height: 30}, {R: plain.New()}} {
		if v := m.View(f); !strings.Contains(v, "Nothing to change") {
			t.Errorf("view %q", v)
		}
	}
	if v := m.Preview(step.Frame{R: plain.New()}); !strings.Contains(v, "Nothing to change") {
		t.Errorf("preview %q", v)
	}
	if m.Keys() != nil || m.Form(s) != nil {
		t.Error("keys or questions with nothing to change")
	}
	before := steptest.Tree(t, root)
	d.Press("a", "s")
	if m.form != nil || len(d.Errs) > 0 {
		t.Fatal("a or s did something with nothing to change")
	}
	var out bytes.Buffer
	if err := m.RunPlain(context.Background(), s, nil, &out); err != nil || out.Len() > 0 {
		t.Fatalf("RunPlain: %v, %q", err, out.String())
	}
	steptest.SameTree(t, root, before)
}

// runPlain runs the step as ui.Plain does: Init, the diff, the questions still open
// (answered from input), FormDone, RunPlain, the view. It returns everything printed.
// The input must end with a line for the next step, which the step must leave alone.
func runPlain(t *testing.T, m *Step, s *step.Session, input string) (string, error) {
	t.Helper()
	const next = "the next step's answer\n"
	in := strings.NewReader(input + next)
	out, err := runPlainFrom(t, m, s, in)
	if rest, _ := io.ReadAll(in); err == nil && string(rest) != next {
		t.Errorf("the step read %q of the next step's input", strings.TrimSuffix(next, string(rest)))
	}
	return out, err
}

func runPlainFrom(t *testing.T, m *Step, s *step.Session, in io.Reader) (string, error) {
	t.Helper()
	d := newDriver(t, m, s)
	var out bytes.Buffer
	f := step.Frame{R: plain.New()}
	fmt.Fprintln(&out, m.Preview(f))
	input := step.NewInput(t.Context(), in)
	if form := m.Form(s); form != nil {
		if err := step.Ask(t.Context(), form, input, &out); err != nil {
			return out.String(), err
		}
		d.Run(func() tea.Msg { return step.FormDone{} })
	}
	if err := m.RunPlain(t.Context(), s, input, &out); err != nil {
		return out.String(), err
	}
	fmt.Fprintln(&out, m.View(f))
	return out.String(), nil
}

func TestPlainPreviewHidesSecrets(t *testing.T) {
	s := newSession(t, steptest.NodeRoot(t, "unhardened"), nil)
	m := New(applyFiles, savePlan)
	newDriver(t, m, s)
	got := m.Preview(step.Frame{R: plain.New()})
	for _, want := range []string{
		"diff --git a/etc/kubernetes/manifests/etcd.yaml b/etc/kubernetes/manifests/etcd.yaml",
		"+    - --client-cert-auth=true",
		"+    - --encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml",
		"etc/kubernetes/pki/etcd/ca.key",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the plain preview lacks %q", want)
		}
	}
	if v := m.View(step.Frame{R: plain.New()}); v != got {
		t.Error("the plain view before a choice is not the whole diff")
	}
	key := s.Encryption.Key.Reveal()
	for name, bad := range map[string]string{"escape code": "\x1b", "private key": "PRIVATE KEY", "encryption key": key} {
		if bad == "" {
			t.Fatalf("no %s to look for", name)
		}
		if strings.Contains(got, bad) {
			t.Errorf("the plain preview shows a %s", name)
		}
	}
}

func TestPlainAsksWhatToDo(t *testing.T) {
	for _, c := range []struct {
		name, input, action string
		written             bool
		dirAnswered         bool // review.dir is answered: only the action is asked
	}{
		{"apply", "1\n", ActionApply, true, false},
		{"save", "2\nPLAN\n", ActionSave, false, false},
		{"save into the answered folder", "2\n", ActionSave, false, true},
		{"none", "3\n", ActionNone, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := steptest.NodeRoot(t, "unhardened")
			dir, _ := filepath.Abs("saved")
			var answers map[string]string
			if c.dirAnswered {
				answers = map[string]string{AnswerDir: dir}
			}
			s := newSession(t, root, answers)
			before := steptest.Tree(t, root)
			m := New(applyFiles, savePlan)
			out, err := runPlain(t, m, s, strings.ReplaceAll(c.input, "PLAN", dir))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "What now?") {
				t.Errorf("the question was not asked:\n%s", out)
			}
			if asked := strings.Contains(out, "Save into which folder?"); asked != (c.action == ActionSave && !c.dirAnswered) {
				t.Errorf("asked for the folder: %v\n%s", asked, out)
			}
			if m.action != c.action || !m.Ready() {
				t.Fatalf("action %q ready %v, want %q", m.action, m.Ready(), c.action)
			}
			if _, err := os.Stat(filepath.Join(root, "etc", "kubernetes", "pki", "etcd", "ca.crt")); (err == nil) != c.written {
				t.Errorf("ca.crt written: %v, want %v", err == nil, c.written)
			}
			if !c.written {
				steptest.SameTree(t, root, before)
			}
			_, err = os.Stat(filepath.Join(dir, harden.PatchFile))
			if (err == nil) != (c.action == ActionSave) {
				t.Errorf("changes.patch in %s: %v", dir, err)
			}
			if strings.Contains(out, "\x1b") {
				t.Error("escape codes in the plain output")
			}
		})
	}
}

// TestPlainNeverActsOnADefault: Enter at "What now?" asks again, and end of input
// (at the choice or at the folder) is an abort: nothing applied, nothing saved.
func TestPlainNeverActsOnADefault(t *testing.T) {
	for _, c := range []struct{ name, input, want string }{
		{"end of input at the choice", "", "What now?"},
		{"Enter, then end of input", "\n", "type 1, 2 or 3: nothing is applied or saved until you say which"},
		{"end of input at the folder", "2\n", "Save into which folder?"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := steptest.NodeRoot(t, "unhardened")
			dir := filepath.Join(t.TempDir(), "saved")
			s := newSession(t, root, nil)
			before := steptest.Tree(t, root)
			m := New(applyFiles, savePlan)
			out, err := runPlainFrom(t, m, s, strings.NewReader(c.input))
			if !errors.Is(err, step.ErrEndOfInput) {
				t.Fatalf("err = %v, want end of input\n%s", err, out)
			}
			if !strings.Contains(out, c.want) {
				t.Errorf("output lacks %q:\n%s", c.want, out)
			}
			if m.Ready() || s.Review != nil {
				t.Error("the step acted on end of input")
			}
			steptest.SameTree(t, root, before)
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a plan folder was written: %v", err)
			}
			if _, err := os.Stat(defaultDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the default plan folder was written: %v", err)
			}
		})
	}
}

func TestPlainPrefilled(t *testing.T) {
	t.Run("apply", func(t *testing.T) {
		root := steptest.NodeRoot(t, "unhardened")
		s := newSession(t, root, map[string]string{AnswerAction: ActionApply})
		m := New(applyFiles, savePlan)
		out, err := runPlain(t, m, s, "")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		for _, want := range []string{
			"apply: backing up the files it replaces\n",
			"apply: wrote /etc/kubernetes/pki/etcd/ca.crt\n",
			"apply: wrote /etc/kubernetes/manifests/etcd.yaml\n",
			"apply: done\n",
			"backup: node/var/lib/etcd-harden/backups/",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "What now?") {
			t.Error("asked though the action was answered")
		}
		if _, err := os.Stat(filepath.Join(root, "etc", "kubernetes", "enc", "encryption-config.yaml")); err != nil {
			t.Error(err)
		}
	})
	t.Run("none", func(t *testing.T) {
		root := steptest.NodeRoot(t, "unhardened")
		s := newSession(t, root, map[string]string{AnswerAction: ActionNone})
		before := steptest.Tree(t, root)
		m := New(applyFiles, savePlan)
		out, err := runPlain(t, m, s, "")
		if err != nil || !strings.HasSuffix(out, "Nothing was written.\n") || !m.Ready() {
			t.Fatalf("err %v, ready %v:\n%s", err, m.Ready(), out)
		}
		steptest.SameTree(t, root, before)
	})
	t.Run("unknown", func(t *testing.T) {
		root := steptest.NodeRoot(t, "unhardened")
		s := newSession(t, root, map[string]string{AnswerAction: "yes"})
		before := steptest.Tree(t, root)
		m := New(applyFiles, savePlan)
		_, err := runPlain(t, m, s, "")
		if err == nil || !strings.Contains(err.Error(), `review.action "yes"`) || !strings.Contains(err.Error(), "apply, save or none") {
			t.Fatalf("err = %v, want one naming the answer and the choices", err)
		}
		if m.Ready() {
			t.Error("ready after an unknown action")
		}
		steptest.SameTree(t, root, before)
	})
	t.Run("apply fails", func(t *testing.T) {
		s := newSession(t, steptest.NodeRoot(t, "unhardened"), map[string]string{AnswerAction: ActionApply})
		boom := errors.New("etcd did not answer")
		m := New(func(context.Context, *step.Session, func(string)) (string, error) { return "", boom }, savePlan)
		_, err := runPlain(t, m, s, "")
		if !errors.Is(err, boom) || m.Ready() {
			t.Fatalf("err = %v, ready %v", err, m.Ready())
		}
	})
}
