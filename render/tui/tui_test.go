package tui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/internal/fixture"
	"github.com/etcd-harden/etcd-harden/render"
)

// pinned passes s through a colour profile writer, as a terminal program's output
// would be, so goldens do not depend on the terminal the tests run in.
func pinned(t testing.TB, p colorprofile.Profile, s string) string {
	t.Helper()
	var b strings.Builder
	w := &colorprofile.Writer{Forward: &b, Profile: p}
	if _, err := w.WriteString(s); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var themes = []struct {
	name  string
	theme Theme
}{{"dark", Dark()}, {"light", Light()}}

var widths = []int{80, 60}

// views draws every view of the fixture with r at width.
func views(r *Renderer, width int) map[string]string {
	return map[string]string{
		"header":         r.Header(fixture.Header(), width),
		"facts":          r.Facts(fixture.Facts(), width),
		"checks":         r.Checks(fixture.Checks(), width),
		"diff":           r.Diff(fixture.Diff(), width),
		"error":          r.Error(fixture.Error(), width),
		"error_endpoint": r.Error(fixture.EndpointError(), width),
		"summary":        r.Summary(fixture.Summary(), width),
		"table":          r.Table(fixture.Table(), width),
	}
}

// TestGolden pins every view, in both themes, at 80 and 60 columns, in true colour.
func TestGolden(t *testing.T) {
	for _, th := range themes {
		for _, w := range widths {
			for name, out := range views(New(th.theme), w) {
				t.Run(fmt.Sprintf("%s/%s_%d", name, th.name, w), func(t *testing.T) {
					out := pinned(t, colorprofile.TrueColor, out)
					if !strings.Contains(out, "\x1b[") {
						t.Errorf("%s has no escape codes:\n%s", name, out)
					}
					golden.RequireEqual(t, out+"\n")
				})
			}
		}
	}
}

// TestGoldenANSI pins the diff as a 16-colour terminal shows it.
func TestGoldenANSI(t *testing.T) {
	out := pinned(t, colorprofile.ANSI, New(Dark()).Diff(fixture.Diff(), 80))
	golden.RequireEqual(t, out+"\n")
}

// TestFitsWidth checks that no line of any view is wider than the terminal, down to 40
// columns.
func TestFitsWidth(t *testing.T) {
	for _, w := range []int{100, 80, 60, 40} {
		for name, out := range views(New(Dark()), w) {
			for i, l := range strings.Split(out, "\n") {
				if got := ansi.StringWidth(l); got > w {
					t.Errorf("%s at width %d: line %d is %d columns: %q", name, w, i+1, got, ansi.Strip(l))
				}
			}
		}
	}
}

// TestLayoutIndependentOfColour checks that the text is the same with colours stripped
// by the profile writer, as on a terminal with no colour.
func TestLayoutIndependentOfColour(t *testing.T) {
	for name, out := range views(New(Light()), 60) {
		if got, want := pinned(t, colorprofile.NoTTY, out), ansi.Strip(out); got != want {
			t.Errorf("%s: NoTTY output differs from the stripped text:\n%s\n---\n%s", name, got, want)
		}
	}
}

func TestMaskedValueNeverShown(t *testing.T) {
	r := New(Dark())
	for _, w := range []int{0, 80, 20} {
		out := r.Facts(fixture.Facts(), w)
		for _, f := range fixture.Facts() {
			if f.Masked && strings.Contains(ansi.Strip(out), f.Value[:8]) {
				t.Errorf("width %d: masked value shown:\n%s", w, out)
			}
		}
		if !strings.Contains(out, render.Mask) {
			t.Errorf("width %d: no mask in\n%s", w, out)
		}
	}
}

func TestSecretFileContentHidden(t *testing.T) {
	f := render.DiffFile{Path: "etc/kubernetes/enc/config.yaml", Mode: "0600", New: true, Secret: true,
		Text: "+++ b/etc/kubernetes/enc/config.yaml\n+      secret: c2VjcmV0\n"}
	got := ansi.Strip(strings.Join(New(Dark()).DiffLines(f, 80), "\n"))
	want := "🔒 etc/kubernetes/enc/config.yaml (new, mode 0600) — content hidden"
	if got != want {
		t.Errorf("DiffLines(secret) = %q, want %q", got, want)
	}
}

func TestFixOnlyUnderFailingChecks(t *testing.T) {
	checks := []render.Check{
		{ID: "1", Title: "ok", Status: render.Pass, Fix: "pass-fix"},
		{ID: "2", Title: "meh", Status: render.Warn, Fix: "warn-fix"},
		{ID: "3", Title: "bad", Status: render.Fail, Fix: "fail-fix"},
	}
	out := ansi.Strip(New(Dark()).Checks(checks, 0))
	want := "✓ 1  ok\n! 2  meh\n     → warn-fix\n✗ 3  bad\n     → fail-fix"
	if out != want {
		t.Errorf("Checks =\n%s\nwant\n%s", out, want)
	}
}

func TestDiffLinesKeepsEveryLine(t *testing.T) {
	f := fixture.BigDiff(100)
	raw := strings.Split(strings.TrimSuffix(f.Text, "\n"), "\n")
	lines := New(Dark()).DiffLines(f, 0)
	if len(lines) != len(raw) {
		t.Fatalf("DiffLines(width 0) gave %d lines, want %d", len(lines), len(raw))
	}
	for i := range raw {
		if got := ansi.Strip(lines[i]); got != raw[i] {
			t.Errorf("line %d = %q, want %q", i+1, got, raw[i])
		}
	}
}

func TestDiffLinesWrapsLongLines(t *testing.T) {
	f := render.DiffFile{Path: "a.yaml", Text: "--- a/a.yaml\n+++ b/a.yaml\n@@ -1 +1 @@\n" +
		"-    - --listen-client-urls=http://127.0.0.1:2379\n" +
		"+    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379\n"}
	got := make([]string, 0)
	for _, l := range New(Dark()).DiffLines(f, 40) {
		got = append(got, ansi.Strip(l))
	}
	want := []string{
		"--- a/a.yaml",
		"+++ b/a.yaml",
		"@@ -1 +1 @@",
		"-    - --listen-client-urls=http://127.0",
		"↪.0.1:2379",
		"+    - --listen-client-urls=https://127.",
		"↪0.0.1:2379,https://10.0.0.11:2379",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("DiffLines(40) =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestHeaderProgress(t *testing.T) {
	tests := []struct {
		step, of int
		want     string
	}{
		{1, 4, "Step 1 of 4 · T  ●○○○"},
		{4, 4, "Step 4 of 4 · T  ●●●●"},
		{0, 3, "Step 0 of 3 · T  ○○○"},
		{0, 0, "T"},
	}
	for _, tt := range tests {
		got := ansi.Strip(New(Dark()).Header(render.Header{Step: tt.step, Of: tt.of, Title: "T"}, 0))
		if got != tt.want {
			t.Errorf("Header(%d of %d) = %q, want %q", tt.step, tt.of, got, tt.want)
		}
	}
}

func TestThemeFor(t *testing.T) {
	if fg := ThemeFor(true).Pass.GetForeground(); fg != Dark().Pass.GetForeground() {
		t.Errorf("ThemeFor(true) is not Dark")
	}
	if fg := ThemeFor(false).Pass.GetForeground(); fg != Light().Pass.GetForeground() {
		t.Errorf("ThemeFor(false) is not Light")
	}
}

// BenchmarkDiffLines colours a diff of about 2,000 lines, as the diff preview does once
// when it opens.
func BenchmarkDiffLines(b *testing.B) {
	f := fixture.BigDiff(930)
	r := New(Dark())
	b.ReportMetric(float64(strings.Count(f.Text, "\n")), "lines")
	b.ResetTimer()
	for b.Loop() {
		r.DiffLines(f, 100)
	}
}

// BenchmarkDiff renders the same diff as one block, stat line included.
func BenchmarkDiff(b *testing.B) {
	d := render.Diff{Files: []render.DiffFile{fixture.BigDiff(930)}}
	r := New(Dark())
	for b.Loop() {
		r.Diff(d, 100)
	}
}
