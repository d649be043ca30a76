package tui

import (
	"strings"

	"charm.land/lipgloss/v2"
)

// span is a style reduced to the escape codes that open and close it, so that colouring
// a line is two string concatenations instead of a full lipgloss Render (a 2,000-line
// diff is coloured about ten times faster). Styles that do more than colours and
// attributes (padding, width, borders, transforms) fall back to Render.
type span struct {
	style       lipgloss.Style
	open, close string
	fast        bool
}

func newSpan(s lipgloss.Style) span {
	sp := span{style: s}
	one := s.Render("x")
	i := strings.Index(one, "x")
	if i < 0 {
		return sp
	}
	sp.open, sp.close = one[:i], one[i+1:]
	// The same codes must wrap any single line, spaces included.
	sp.fast = s.Render("x y") == sp.open+"x y"+sp.close
	return sp
}

// render styles one line that holds no newline and no tab.
func (sp span) render(s string) string {
	if !sp.fast {
		return sp.style.Render(s)
	}
	if s == "" {
		return ""
	}
	return sp.open + s + sp.close
}

// diffSpans are the diff styles of a theme, reduced once per Renderer.
type diffSpans struct {
	file, hunk, add, del, context, note span
}

func newDiffSpans(t Theme) diffSpans {
	return diffSpans{
		file:    newSpan(t.DiffFile),
		hunk:    newSpan(t.DiffHunk),
		add:     newSpan(t.DiffAdd),
		del:     newSpan(t.DiffDel),
		context: newSpan(t.DiffContext),
		note:    newSpan(t.Muted),
	}
}
