package preview

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
)

// Keys as a terminal sends them.
var (
	keyTab      = tea.KeyPressMsg{Code: tea.KeyTab}
	keyShiftTab = tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	keyPgDown   = tea.KeyPressMsg{Code: tea.KeyPgDown}
	keyDown     = tea.KeyPressMsg{Code: tea.KeyDown}
	keyEnd      = tea.KeyPressMsg{Code: tea.KeyEnd}
)

func keyText(s string) tea.KeyPressMsg {
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// pinned passes s through a true-colour profile writer, as a terminal program's output
// would be, so goldens do not depend on the terminal the tests run in.
func pinned(t testing.TB, s string) string {
	t.Helper()
	var b strings.Builder
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.TrueColor}
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// press sends keys to m through Update, as the shell would.
func press(m Model, keys ...tea.KeyPressMsg) Model {
	for _, k := range keys {
		m, _ = m.Update(k)
	}
	return m
}

var sizes = [][2]int{{100, 30}, {60, 20}}

// TestView pins the preview after each kind of move, wide and narrow, in true colour.
func TestView(t *testing.T) {
	cases := []struct {
		name string
		keys []tea.KeyPressMsg
	}{
		{"initial", nil},
		{"second_file", []tea.KeyPressMsg{keyTab}},
		{"third_file", []tea.KeyPressMsg{keyText("]"), keyText("]")}},
		{"next_hunk", []tea.KeyPressMsg{keyText("n"), keyText("n")}},
		{"pgdn", []tea.KeyPressMsg{keyPgDown}},
	}
	for _, c := range cases {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s_%dx%d", c.name, sz[0], sz[1]), func(t *testing.T) {
				m, _ := New(planFiles(), tui.Dark()).Update(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
				out := press(m, c.keys...).View()
				assertFits(t, out, sz[0], sz[1])
				golden.RequireEqual(t, pinned(t, out)+"\n")
			})
		}
	}
}

// assertFits checks that the view fills exactly w x h and no line is wider.
func assertFits(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Errorf("view is %d lines high, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got > w {
			t.Errorf("line %d is %d columns wide, want at most %d: %q", i+1, got, w, ansi.Strip(l))
		}
	}
}

// TestSecretNeverShown scrolls through the whole preview at several sizes, line by line
// and file by file, and checks that no frame shows the secret file's content, only its
// path and mode.
func TestSecretNeverShown(t *testing.T) {
	for _, sz := range [][2]int{{140, 40}, {100, 30}, {80, 24}, {60, 20}, {40, 10}} {
		m := New(planFiles(), tui.Light())
		m.SetSize(sz[0], sz[1])
		sawPath := false
		check := func(m Model) {
			out := ansi.Strip(m.View())
			if strings.Contains(out, secretKey) || strings.Contains(out, "name: key1") {
				t.Fatalf("%dx%d: the secret file's content is on screen:\n%s", sz[0], sz[1], out)
			}
			sawPath = sawPath || strings.Contains(out, "encryption-config.yaml")
		}
		for range len(m.body.lines) {
			check(m)
			m = press(m, keyDown)
		}
		for range 4 {
			m = press(m, keyTab)
			check(m)
		}
		if !sawPath {
			t.Errorf("%dx%d: the secret file is not listed by path", sz[0], sz[1])
		}
	}
	for _, r := range []render.Renderer{plain.New(), tui.New(tui.Dark())} {
		out := PlainView(planFiles(), r)
		if strings.Contains(out, secretKey) || !strings.Contains(out, "encryption-config.yaml") {
			t.Errorf("PlainView with %T shows the secret or hides its path:\n%s", r, out)
		}
	}
}

// TestHunks checks that n visits every hunk of every file in order and stops at the
// last, even where the window cannot scroll as far, and that N comes back.
func TestHunks(t *testing.T) {
	m := New(planFiles(), tui.Dark())
	m.SetSize(100, 30)
	want := []string{"@@ -13,10 +13,14 @@", "@@ -37,6 +38,8 @@", "@@ -45,4 +48,8 @@", "@@ -20,6 +20,7 @@"}
	wantFile := []int{0, 0, 0, 2}
	if len(m.body.hunks) != len(want) {
		t.Fatalf("found %d hunks, want %d", len(m.body.hunks), len(want))
	}
	for i := range want {
		m = press(m, keyText("n"))
		if got := ansi.Strip(m.body.lines[m.mark]); got != want[i] || m.File() != wantFile[i] {
			t.Errorf("after %d× n: hunk %q in file %d, want %q in file %d", i+1, got, m.File(), want[i], wantFile[i])
		}
		if !strings.Contains(ansi.Strip(m.View()), want[i]) {
			t.Errorf("after %d× n: %q is not on screen", i+1, want[i])
		}
	}
	if m = press(m, keyText("}")); ansi.Strip(m.body.lines[m.mark]) != want[3] {
		t.Errorf("n past the last hunk moved to %q", ansi.Strip(m.body.lines[m.mark]))
	}
	for i := len(want) - 2; i >= 0; i-- {
		m = press(m, keyText("N"))
		if got := ansi.Strip(m.body.lines[m.mark]); got != want[i] {
			t.Errorf("N back to hunk %d: got %q, want %q", i, got, want[i])
		}
	}
	if m = press(m, keyText("{")); ansi.Strip(m.body.lines[m.mark]) != want[0] {
		t.Errorf("N before the first hunk moved to %q", ansi.Strip(m.body.lines[m.mark]))
	}
}

// TestFiles checks tab, shift+tab, [ and ] round the ends, and that scrolling moves the
// highlight to the file at the top of the window.
func TestFiles(t *testing.T) {
	m := New(planFiles(), tui.Dark())
	m.SetSize(100, 30)
	steps := []struct {
		key  tea.KeyPressMsg
		want int
	}{{keyTab, 1}, {keyTab, 2}, {keyTab, 0}, {keyShiftTab, 2}, {keyText("["), 1}, {keyText("]"), 2}, {keyText("g"), 0}}
	for _, s := range steps {
		m = press(m, s.key)
		if m.File() != s.want {
			t.Errorf("after %s: file %d, want %d", s.key, m.File(), s.want)
		}
	}
	for i, want := range []string{"🔒 etc/kubernetes/enc/encryption-config.yaml", "--- a/etc/kubernetes/manifests/kube-apiserver.yaml"} {
		m = press(m, keyTab)
		if top := ansi.Strip(strings.Split(strings.Join(m.window(), "\n"), "\n")[0]); !strings.HasPrefix(top, want) {
			t.Errorf("tab %d: the top line is %q, want %q", i+1, top, want)
		}
	}
	m = press(m, keyText("g"), keyPgDown, keyPgDown, keyPgDown)
	if m.File() != 2 {
		t.Errorf("after scrolling to the end: file %d, want 2", m.File())
	}
	m = press(m, keyText("g"), keyDown)
	if m.File() != 0 {
		t.Errorf("after g and one line down: file %d, want 0", m.File())
	}
	m = press(m, keyEnd, keyText("k"))
	if m.File() != 1 {
		t.Errorf("after end and one line up: file %d, want the one at the top, 1", m.File())
	}
}

// TestResize checks that a new height does not render the diff again, a new width does,
// and the reader stays in the same file.
func TestResize(t *testing.T) {
	m := New(planFiles(), tui.Dark())
	m.SetSize(60, 20)
	m = press(m, keyTab, keyTab)
	lines := m.body.lines
	m, _ = m.Update(tea.WindowSizeMsg{Width: 60, Height: 12})
	if &m.body.lines[0] != &lines[0] {
		t.Error("a new height rendered the diff again")
	}
	assertFits(t, m.View(), 60, 12)
	for _, sz := range [][2]int{{100, 30}, {45, 15}, {200, 50}} {
		m.SetSize(sz[0], sz[1])
		if m.File() != 2 || !strings.Contains(ansi.Strip(strings.Join(m.window(), "\n")), "kube-api") {
			t.Errorf("%dx%d: resize lost the file: now %d", sz[0], sz[1], m.File())
		}
		assertFits(t, m.View(), sz[0], sz[1])
	}
}

// TestSummary checks the counts and plurals of the summary line.
func TestSummary(t *testing.T) {
	cases := []struct {
		files []render.DiffFile
		want  string
	}{
		{planFiles(), "3 files · +24 −1 · 1 secret file hidden"},
		{planFiles()[2:], "1 file · +1 −0"},
		{[]render.DiffFile{{Secret: true, Added: 3}, {Secret: true, Added: 4}}, "2 files · +7 −0 · 2 secret files hidden"},
	}
	for _, c := range cases {
		if got := summary(c.files); got != c.want {
			t.Errorf("summary = %q, want %q", got, c.want)
		}
		m := New(c.files, tui.Dark())
		m.SetSize(100, 30)
		if !strings.Contains(ansi.Strip(m.View()), c.want) {
			t.Errorf("the view does not show %q", c.want)
		}
	}
}

// TestEdges covers no files, one file (no list), a mode-only change and a tiny window.
func TestEdges(t *testing.T) {
	if got := New(planFiles(), tui.Dark()).View(); got != "" {
		t.Errorf("a preview with no size drew %q", got)
	}
	m := New(nil, tui.Dark())
	m.SetSize(80, 24)
	m = press(m, keyTab, keyText("n"), keyPgDown)
	if got := ansi.Strip(m.View()); !strings.HasPrefix(got, "No changes") {
		t.Errorf("empty preview: %q", got)
	}
	one := New(planFiles()[:1], tui.Dark())
	one.SetSize(120, 20)
	if got := ansi.Strip(one.View()); strings.Contains(got, "│") || strings.Contains(got, "› ") {
		t.Errorf("a single file shows a file list:\n%s", got)
	}
	mode := New([]render.DiffFile{{Path: "etc/kubernetes/pki/etcd/ca.key", Mode: "0600"}, planFiles()[2]}, tui.Dark())
	mode.SetSize(80, 24)
	if got := ansi.Strip(mode.View()); !strings.Contains(got, "ca.key (+0 −0 · 0600) — no change to the content") {
		t.Errorf("a mode-only change is not named:\n%s", got)
	}
	tiny := New(planFiles(), tui.Dark())
	tiny.SetSize(10, 3)
	tiny = press(tiny, keyPgDown, keyText("n"), keyTab)
	assertFits(t, tiny.View(), 10, 3)
	tiny.SetShowHelp(false)
	assertFits(t, tiny.View(), 10, 3)
	if got := ansi.Strip(tiny.View()); strings.Contains(got, "scroll") {
		t.Errorf("SetShowHelp(false) still draws the help:\n%s", got)
	}
}

// TestKeys checks that every help entry has help text and matches the keys it names.
func TestKeys(t *testing.T) {
	m := New(planFiles(), tui.Dark())
	m.SetSize(80, 24)
	keys := m.Keys()
	if len(keys) != 5 {
		t.Fatalf("Keys() = %d bindings, want 5", len(keys))
	}
	for _, k := range keys {
		if k.Help().Key == "" || k.Help().Desc == "" || len(k.Keys()) < 2 {
			t.Errorf("binding %v has no help or lacks a direction", k.Keys())
		}
	}
	if got := ansi.Strip(m.View()); !strings.Contains(got, "n/N hunk") {
		t.Errorf("the help bar does not name the hunk keys:\n%s", got)
	}
}

// TestMouseWheel checks that the wheel scrolls three lines a notch and moves the highlight.
func TestMouseWheel(t *testing.T) {
	m := New(planFiles(), tui.Dark())
	m.SetSize(100, 30)
	for range 20 {
		m, _ = m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelDown})
	}
	if m.off != m.body.starts[2] || m.File() != 2 {
		t.Errorf("after 20 notches down: top line %d in file %d, want %d in file 2", m.off, m.File(), m.body.starts[2])
	}
	m, _ = m.Update(tea.MouseWheelMsg{Button: tea.MouseWheelUp})
	if m.off != m.body.starts[2]-wheelLines {
		t.Errorf("one notch up: top line %d, want %d", m.off, m.body.starts[2]-wheelLines)
	}
}

// TestPlainView pins the plain review: no escape codes, the secret file by path only.
func TestPlainView(t *testing.T) {
	out := PlainView(planFiles(), plain.New())
	if strings.Contains(out, "\x1b[") {
		t.Errorf("PlainView has escape codes:\n%q", out)
	}
	golden.RequireEqual(t, out+"\n")
}
