package tui

import (
	"strings"
	"testing"

	"charm.land/lipgloss/v2"

	"github.com/etcd-harden/etcd-harden/internal/fixture"
)

// TestSpanMatchesRender checks the shortcut against lipgloss itself on every line of a
// real diff, for every diff style of both themes.
func TestSpanMatchesRender(t *testing.T) {
	lines := strings.Split(fixture.BigDiff(50).Text, "\n")
	for _, th := range themes {
		for _, st := range []lipgloss.Style{th.theme.DiffFile, th.theme.DiffHunk, th.theme.DiffAdd,
			th.theme.DiffDel, th.theme.DiffContext, th.theme.Muted} {
			sp := newSpan(st)
			if !sp.fast && st.GetForeground() != nil {
				t.Errorf("%s: a colour-only style took the slow path", th.name)
			}
			for _, l := range lines {
				if l == "" {
					continue // span keeps an empty line empty; Render wraps it in codes
				}
				if got, want := sp.render(l), st.Render(l); got != want {
					t.Fatalf("%s: span.render(%q) = %q, want %q", th.name, l, got, want)
				}
			}
		}
	}
}

func TestSpanFallsBackForLayoutStyles(t *testing.T) {
	for _, st := range []lipgloss.Style{
		lipgloss.NewStyle().Foreground(lipgloss.Color("#ff0000")).Padding(0, 2),
		lipgloss.NewStyle().Underline(true),
		lipgloss.NewStyle().Transform(strings.ToUpper),
	} {
		sp := newSpan(st)
		if got, want := sp.render("a b"), st.Render("a b"); got != want {
			t.Errorf("span.render = %q, want %q", got, want)
		}
	}
}

func TestBigDiffSize(t *testing.T) {
	n := strings.Count(fixture.BigDiff(930).Text, "\n")
	if n < 1900 || n > 2100 {
		t.Errorf("BigDiff(930) has %d lines; the benchmark wants about 2,000", n)
	}
}
