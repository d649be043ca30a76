package ui

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	uicerts "github.com/etcd-harden/etcd-harden/ui/certs"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

func plainTheme(bool) (render.Renderer, help.Styles) {
	return plain.New(), help.Styles{}
}

func tuiTheme(dark bool) (render.Renderer, help.Styles) {
	return tui.New(tui.ThemeFor(dark)), help.DefaultStyles(dark)
}

// secondStep is a trivial second screen so the shell has somewhere to go.
type secondStep struct{ inits int }

func (s *secondStep) Title() string                         { return "Second" }
func (s *secondStep) Intro() string                         { return "" }
func (s *secondStep) Init(*step.Session) tea.Cmd            { s.inits++; return nil }
func (s *secondStep) Update(*step.Session, tea.Msg) tea.Cmd { return nil }
func (s *secondStep) View(step.Frame) string                { return "second body" }
func (s *secondStep) Ready() bool                           { return true }
func (s *secondStep) Keys() []key.Binding                   { return nil }

// newTestShell returns a shell over root with preflight and a second step, sized w×h,
// with preflight's work done.
func newTestShell(t *testing.T, root string, theme Theme, w, h int) (*Shell, *secondStep) {
	t.Helper()
	second := &secondStep{}
	defs := []step.Def{DefaultSteps()[0], {Name: "second", New: func() step.Step { return second }}}
	sh := NewShell(&step.Session{Layout: discover.Defaults(root, "", "")}, defs, theme)
	send(t, sh, sh.Init())
	send(t, sh, func() tea.Msg { return tea.WindowSizeMsg{Width: w, Height: h} })
	return sh, second
}

// send runs cmd and every command that follows, feeding the messages to the shell.
func send(t *testing.T, sh *Shell, cmd tea.Cmd) {
	t.Helper()
	err := drive(context.Background(), cmd, func(msg tea.Msg) tea.Cmd {
		_, next := sh.Update(msg)
		return next
	})
	if err != nil {
		t.Fatal(err)
	}
}

func press(t *testing.T, sh *Shell, keys ...string) {
	t.Helper()
	for _, k := range keys {
		send(t, sh, func() tea.Msg { return steptest.Key(k) })
	}
}

func TestShellMovesBackAndForthKeepingSteps(t *testing.T) {
	sh, second := newTestShell(t, steptest.Root(t, "unhardened"), plainTheme, 100, 30)
	if !sh.step().Ready() {
		t.Fatalf("preflight not ready:\n%s", sh.render())
	}
	press(t, sh, "enter")
	if sh.current != 1 || !strings.Contains(sh.render(), "second body") {
		t.Fatalf("enter did not move to the second step:\n%s", sh.render())
	}
	press(t, sh, "b")
	if sh.current != 0 {
		t.Fatal("b did not go back")
	}
	press(t, sh, "enter")
	if second.inits != 1 {
		t.Fatalf("the second step was made %d times; going back and forth must keep it", second.inits)
	}
	press(t, sh, "enter")
	if !sh.finished || sh.Aborted() {
		t.Fatal("enter on the last step did not finish the wizard")
	}
}

func TestShellConfirmsBeforeQuitting(t *testing.T) {
	sh, _ := newTestShell(t, steptest.Root(t, "unhardened"), plainTheme, 100, 30)
	press(t, sh, "q")
	if !strings.Contains(sh.render(), "Quit the wizard?") {
		t.Fatalf("q did not ask before quitting:\n%s", sh.render())
	}
	press(t, sh, "n")
	if sh.confirmQuit || sh.Aborted() {
		t.Fatal("n did not cancel the quit")
	}
	press(t, sh, "ctrl+c", "ctrl+c")
	if !sh.Aborted() {
		t.Fatal("ctrl+c twice did not quit")
	}
}

func TestShellScrollsLongBodies(t *testing.T) {
	sh, _ := newTestShell(t, steptest.Root(t, "unhardened"), plainTheme, 100, 12)
	first := sh.render()
	if got := strings.Count(first, "\n") + 1; got != 12 {
		t.Fatalf("the view has %d lines, want the window's 12:\n%s", got, first)
	}
	press(t, sh, "pgdown")
	if sh.render() == first {
		t.Fatal("pgdown did not scroll the checks")
	}
	if !strings.Contains(sh.render(), "scroll") {
		t.Fatal("the help bar does not show the scroll keys")
	}
}

func TestShellShowsManifestErrors(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etcd.yaml"), []byte("apiVersion: v1\nkind: {{ .Kind }}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sh, _ := newTestShell(t, root, plainTheme, 100, 30)
	view := sh.render()
	if !strings.Contains(view, "etcd.yaml") || !strings.Contains(view, "template") {
		t.Fatalf("the error view does not name the file and the problem:\n%s", view)
	}
	if sh.step().Ready() {
		t.Fatal("preflight is ready after failing to read the manifest")
	}
}

// TestShellGolden pins the first screen in both backends at 100x30.
func TestShellGolden(t *testing.T) {
	for name, theme := range map[string]Theme{"plain": plainTheme, "tui-dark": tuiTheme} {
		t.Run(name, func(t *testing.T) {
			// A relative root keeps the wrapped lines the same whatever the temp folder.
			root := steptest.Root(t, "unhardened")
			wd, _ := os.Getwd()
			t.Chdir(filepath.Dir(root))
			sh, _ := newTestShell(t, filepath.Base(root), theme, 100, 30)
			view := stableRoot(sh)
			t.Chdir(wd)
			golden.RequireEqual(t, []byte(view))
		})
	}
}

// stableRoot pins the colour profile and names the root ROOT in a view.
func stableRoot(sh *Shell) string {
	return strings.ReplaceAll(steptest.TrueColor(sh.render()), sh.session.Layout.Root, "ROOT")
}

// TestShellProgram runs the shell as a real bubbletea program.
func TestShellProgram(t *testing.T) {
	sh, _ := newTestShell(t, steptest.Root(t, "unhardened"), tuiTheme, 100, 30)
	sh2 := NewShell(sh.session, DefaultSteps(), tuiTheme)
	tm := teatest.NewTestModel(t, sh2, teatest.WithInitialTermSize(100, 30),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.TrueColor)))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("1.2.26")) },
		teatest.WithDuration(10*time.Second))
	tm.Send(steptest.Key("q"))
	tm.Send(steptest.Key("y"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Shell)
	if !final.Aborted() {
		t.Fatal("q, y did not quit")
	}
}

func TestRunPlainPrintsChecksWithoutEscapes(t *testing.T) {
	var out bytes.Buffer
	err := Plain{R: plain.New(), Out: &out}.Run(context.Background(),
		&step.Session{Layout: discover.Defaults(steptest.Root(t, "unhardened"), "", "")}, DefaultSteps()[:1])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Step 1 of 1: Preflight", "[FAIL] 2.1", "[FAIL] 1.2.27"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plain output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Error("plain output has escape codes")
	}
}

func TestRunPlainReportsBadManifest(t *testing.T) {
	var out bytes.Buffer
	err := Plain{R: plain.New(), Out: &out}.Run(context.Background(),
		&step.Session{Layout: discover.Defaults(t.TempDir(), "", "")}, DefaultSteps()[:1])
	var shown *ShownError
	if !errors.As(err, &shown) {
		t.Fatalf("err = %v, want a ShownError", err)
	}
	if !strings.Contains(out.String(), "etcd.yaml") {
		t.Fatalf("the error does not name etcd.yaml:\n%s", out.String())
	}
}

// TestShellTooSmall: in a window too small for the screen, the shell says so and the
// size it needs, and no key but quit does anything (enter would take defaults unseen);
// made bigger, the step is back where it was.
func TestShellTooSmall(t *testing.T) {
	for name, theme := range map[string]Theme{"plain": plainTheme, "tui-dark": tuiTheme} {
		t.Run(name, func(t *testing.T) {
			sh, second := newTestShell(t, steptest.Root(t, "unhardened"), theme, 20, 5)
			view := steptest.TrueColor(sh.render())
			golden.RequireEqual(t, []byte(view))
			if got := strings.Count(view, "\n") + 1; got > 5 || lipgloss.Width(view) > 20 {
				t.Errorf("the small view is %dx%d, more than the 20x5 window:\n%s", lipgloss.Width(view), got, view)
			}
			press(t, sh, "enter", "right", "b", "r")
			if sh.current != 0 || second.inits != 0 || sh.finished {
				t.Fatalf("keys moved the wizard while it could not be seen: step %d", sh.current)
			}
			send(t, sh, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
			if v := sh.render(); strings.Contains(v, "too small") || !strings.Contains(v, "1.2.26") {
				t.Fatalf("after the resize the step is not back:\n%s", v)
			}
			press(t, sh, "enter")
			if sh.current != 1 {
				t.Fatal("enter does not move on once the window is big enough")
			}
		})
	}
}

// TestShellTooSmallNeedsTheWholeForm: a step that scrolls itself (a form) needs its whole
// body on screen, or its last choices would be cut off unseen.
func TestShellTooSmallNeedsTheWholeForm(t *testing.T) {
	tall := &formStep{lines: 20}
	sh := NewShell(&step.Session{}, []step.Def{{Name: "form", New: func() step.Step { return tall }}}, plainTheme)
	send(t, sh, sh.Init())
	send(t, sh, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 20} })
	if v := sh.render(); !strings.Contains(v, "Terminal too small (100x20, needs 60x22).") {
		t.Fatalf("a 20-line form in 20 rows:\n%s", v)
	}
	send(t, sh, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 22} })
	if v := sh.render(); !strings.Contains(v, "choice 20") {
		t.Fatalf("at the size it asked for, the form is cut:\n%s", v)
	}
}

// formStep is a step with a form of its own: it scrolls itself and takes every key.
type formStep struct{ lines int }

func (s *formStep) Title() string                         { return "Form" }
func (s *formStep) Intro() string                         { return "" }
func (s *formStep) Init(*step.Session) tea.Cmd            { return nil }
func (s *formStep) Update(*step.Session, tea.Msg) tea.Cmd { return nil }
func (s *formStep) Ready() bool                           { return false }
func (s *formStep) Keys() []key.Binding                   { return nil }
func (s *formStep) ScrollsItself() bool                   { return true }
func (s *formStep) CapturesKeys() bool                    { return true }
func (s *formStep) View(step.Frame) string {
	var b strings.Builder
	for i := range s.lines {
		fmt.Fprintf(&b, "choice %d\n", i+1)
	}
	return b.String()
}

// TestShellTooSmallProgram runs the shell in a real bubbletea program in a 20x5 terminal:
// it shows the small view, ignores enter, and comes back when the terminal grows.
func TestShellTooSmallProgram(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	sh := NewShell(&step.Session{Layout: discover.Defaults(root, "", "")}, DefaultSteps(), tuiTheme)
	tm := teatest.NewTestModel(t, sh, teatest.WithInitialTermSize(20, 5),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.TrueColor)))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("too small")) },
		teatest.WithDuration(10*time.Second))
	tm.Send(steptest.Key("enter"))
	tm.Send(tea.WindowSizeMsg{Width: 100, Height: 30})
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("1.2.26")) },
		teatest.WithDuration(10*time.Second))
	tm.Send(steptest.Key("q"))
	tm.Send(steptest.Key("y"))
	final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*Shell)
	if !final.Aborted() || final.current != 0 {
		t.Fatalf("aborted %v on step %d; want q, y to quit from preflight", final.Aborted(), final.current+1)
	}
}

// TestShellFormsKeepTheQuestionInView opens the certificates step, the tallest form, in
// 80x20, less than the 80x24 a terminal opens at: the screen is not "too small", and the
// form's question stays in view while the checks above it give up lines.
func TestShellFormsKeepTheQuestionInView(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	sh := NewShell(&step.Session{Layout: discover.Defaults(root, "", "")}, []step.Def{DefaultSteps()[0], uicerts.Def()}, tuiTheme)
	tm := teatest.NewTestModel(t, sh, teatest.WithInitialTermSize(80, 20),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte("checks fail")) },
		teatest.WithDuration(20*time.Second))
	tm.Send(steptest.Key("enter"))
	var b []byte
	teatest.WaitFor(t, tm.Output(), func(seen []byte) bool {
		b = seen
		return bytes.Contains(b, []byte("auto —")) || bytes.Contains(b, []byte("too small"))
	}, teatest.WithDuration(20*time.Second))
	tm.Send(steptest.Key("ctrl+c"))
	tm.Send(steptest.Key("y"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if bytes.Contains(b, []byte("too small")) || !bytes.Contains(b, []byte("lines above (shown again after the questions)")) {
		t.Fatalf("the certificates form at 80x20 should fit, the checks above it giving up lines:\n%s", b)
	}
}
