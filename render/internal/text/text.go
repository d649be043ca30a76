// Package text wraps prose for the render backends.
package text

import (
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Wrap splits plain text into lines: the first at most first columns wide, the others at
// most rest (0: no limit). It breaks between words only, never at a hyphen, so that flags
// such as --trusted-ca-file and paths stay whole; a word longer than a line gets a line
// of its own, still whole (the caller decides whether to cut it). Runs of spaces become
// one.
func Wrap(s string, first, rest int) []string {
	if s == "" {
		return nil
	}
	if first <= 0 || ansi.StringWidth(s) <= first {
		return []string{s}
	}
	var lines []string
	var cur strings.Builder
	curW, limit := 0, first
	for _, word := range strings.Fields(s) {
		w := ansi.StringWidth(word)
		switch {
		case curW == 0:
		case limit <= 0 || curW+1+w <= limit:
			cur.WriteByte(' ')
			cur.WriteString(word)
			curW += 1 + w
			continue
		default:
			lines = append(lines, cur.String())
			cur.Reset()
			limit = rest
		}
		cur.WriteString(word)
		curW = w
	}
	return append(lines, cur.String())
}
