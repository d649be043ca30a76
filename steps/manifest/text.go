package manifest

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// line is one line of the source: content is src[start:end], its line break
// src[end:next] (empty on a last line without one).
type line struct{ start, end, next int }

// text is the source split the way the YAML scanner splits it, so that a node's
// Line and Column map to byte offsets.
type text struct {
	src   []byte
	lines []line
}

// newText splits src at every break the YAML scanner counts: \n, \r\n, \r,
// NEL, LS and PS.
func newText(src []byte) *text {
	t := &text{src: src}
	start := 0
	for i := 0; i < len(src); {
		n := 0
		switch c := src[i]; {
		case c == '\n':
			n = 1
		case c == '\r':
			n = 1
			if i+1 < len(src) && src[i+1] == '\n' {
				n = 2
			}
		case c == 0xC2 && i+1 < len(src) && src[i+1] == 0x85:
			n = 2
		case c == 0xE2 && i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xA8 || src[i+2] == 0xA9):
			n = 3
		}
		if n == 0 {
			i++
			continue
		}
		t.lines = append(t.lines, line{start, i, i + n})
		i += n
		start = i
	}
	if start < len(src) || len(t.lines) == 0 {
		t.lines = append(t.lines, line{start, len(src), len(src)})
	}
	return t
}

// content returns line i without its break.
func (t *text) content(i int) []byte { return t.src[t.lines[i].start:t.lines[i].end] }

// indent counts the leading spaces of line i.
func (t *text) indent(i int) int {
	c := t.content(i)
	n := 0
	for n < len(c) && c[n] == ' ' {
		n++
	}
	return n
}

// blank reports whether line i holds only spaces and tabs.
func (t *text) blank(i int) bool { return len(bytes.Trim(t.content(i), " \t")) == 0 }

// comment reports whether line i holds only a comment.
func (t *text) comment(i int) bool {
	return bytes.HasPrefix(bytes.TrimLeft(t.content(i), " \t"), []byte("#"))
}

// lineOf returns the index of the line holding byte offset off.
func (t *text) lineOf(off int) int {
	i := sort.Search(len(t.lines), func(i int) bool { return t.lines[i].start > off })
	return max(i-1, 0)
}

// eol returns the line break to write after line i: its own, else the nearest one before
// it, else the file's first.
func (t *text) eol(i int) string {
	for j := i; j >= 0; j-- {
		if l := t.lines[j]; l.next > l.end {
			return string(t.src[l.end:l.next])
		}
	}
	for _, l := range t.lines {
		if l.next > l.end {
			return string(t.src[l.end:l.next])
		}
	}
	return "\n"
}

// offset converts a node's 1-based Line and Column (counted in characters) to a
// byte offset.
func (t *text) offset(lineNo, col int) (int, error) {
	if lineNo < 1 || lineNo > len(t.lines) {
		return 0, fmt.Errorf("line %d is outside the file: %w", lineNo, ErrUnsupportedLayout)
	}
	l := t.lines[lineNo-1]
	off := l.start
	for c := 1; c < col; c++ {
		if off >= l.end {
			return 0, fmt.Errorf("column %d is outside line %d: %w", col, lineNo, ErrUnsupportedLayout)
		}
		_, w := utf8.DecodeRune(t.src[off:l.end])
		off += w
	}
	return off, nil
}

// start returns the offset of n's value, after any tag or anchor.
func (t *text) start(n *yaml.Node) (int, error) {
	off, err := t.offset(n.Line, n.Column)
	if err != nil {
		return 0, err
	}
	if n.Anchor != "" || n.Style&yaml.TaggedStyle != 0 {
		return 0, fmt.Errorf("line %d: tags and anchors are not edited: %w", n.Line, ErrUnsupportedLayout)
	}
	return off, nil
}

// dashCol returns the column of the "-" that opens sequence item n, and the gap
// between that dash and the item.
func (t *text) dashCol(n *yaml.Node) (col int, gap string, err error) {
	off, err := t.offset(n.Line, n.Column)
	if err != nil {
		return 0, "", err
	}
	l := t.lines[n.Line-1]
	i := off - 1
	for i >= l.start && t.src[i] == ' ' {
		i--
	}
	if i < l.start || t.src[i] != '-' {
		return 0, "", fmt.Errorf("line %d: the sequence item does not start on its dash line: %w", n.Line, ErrUnsupportedLayout)
	}
	return i - l.start, string(t.src[i+1 : off]), nil
}

// wholeLine reports whether the item with dash at column dash on line i is the
// first thing on that line.
func (t *text) wholeLine(i, dash int) bool {
	return t.indent(i) == dash
}

// plainEnd returns the end of the plain scalar text that starts at off on line i:
// before a " #" comment, without trailing blanks.
func (t *text) plainEnd(i, off int) int {
	l := t.lines[i]
	end := l.end
	for j := off; j < l.end; j++ {
		if t.src[j] == '#' && j > off && (t.src[j-1] == ' ' || t.src[j-1] == '\t') {
			end = j
			break
		}
	}
	for end > off && (t.src[end-1] == ' ' || t.src[end-1] == '\t') {
		end--
	}
	return end
}

// scalarSpan returns the byte range of scalar n's text. parent is the column of
// the dash or key that holds it: continuation lines are indented deeper.
func (t *text) scalarSpan(n *yaml.Node, parent int) (start, end int, err error) {
	start, err = t.start(n)
	if err != nil {
		return 0, 0, err
	}
	if n.Tag == "!!null" && n.Value == "" && n.Style == 0 {
		return start, start, nil
	}
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		for i := start + 1; i < len(t.src); i++ {
			switch t.src[i] {
			case '\\':
				i++
			case '"':
				return start, i + 1, nil
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		for i := start + 1; i < len(t.src); i++ {
			if t.src[i] == '\'' {
				if i+1 < len(t.src) && t.src[i+1] == '\'' {
					i++
					continue
				}
				return start, i + 1, nil
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		first, last, _ := t.blockLines(t.lineOf(start), parent)
		if first < 0 {
			return start, t.plainEnd(t.lineOf(start), start), nil
		}
		return start, t.lines[last].end, nil
	default:
		i := t.lineOf(start)
		end = t.plainEnd(i, start)
		for j := i + 1; j < len(t.lines); j++ {
			if t.blank(j) {
				continue
			}
			if t.comment(j) || t.indent(j) <= parent {
				break
			}
			end = t.plainEnd(j, t.lines[j].start)
		}
		return start, end, nil
	}
	return 0, 0, fmt.Errorf("line %d: unterminated quoted scalar: %w", n.Line, ErrUnsupportedLayout)
}

// keyEnd returns the offset just past mapping key k (before its colon).
func (t *text) keyEnd(k *yaml.Node) (int, error) {
	if k.Kind != yaml.ScalarNode || k.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return 0, fmt.Errorf("line %d: complex mapping key: %w", k.Line, ErrUnsupportedLayout)
	}
	if k.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
		_, end, err := t.scalarSpan(k, k.Column-1)
		return end, err
	}
	start, err := t.start(k)
	if err != nil {
		return 0, err
	}
	if end := start + len(k.Value); end <= len(t.src) && string(t.src[start:end]) == k.Value {
		return end, nil
	}
	return 0, fmt.Errorf("line %d: key %q is not written on one line: %w", k.Line, k.Value, ErrUnsupportedLayout)
}

// blockLines returns the first and last content lines of the block scalar whose
// header is on line h, and their indentation; first is -1 when it has none.
func (t *text) blockLines(h, parent int) (first, last, ind int) {
	first, last, ind = -1, -1, 0
	for j := h + 1; j < len(t.lines); j++ {
		if t.blank(j) {
			continue
		}
		in := t.indent(j)
		if first < 0 {
			if in <= parent {
				break
			}
			first, ind = j, in
		} else if in < ind {
			break
		}
		last = j
	}
	return first, last, ind
}

// flowEnd returns the offset just past the bracket that closes the flow
// collection starting at off.
func (t *text) flowEnd(off int) (int, error) {
	depth := 0
	for i := off; i < len(t.src); i++ {
		switch c := t.src[i]; c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"', '\'':
			for i++; i < len(t.src); i++ {
				if c == '"' && t.src[i] == '\\' {
					i++
				} else if t.src[i] == c {
					if c == '\'' && i+1 < len(t.src) && t.src[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '#':
			if i > 0 && (t.src[i-1] == ' ' || t.src[i-1] == '\t' || t.src[i-1] == '\n' || t.src[i-1] == '\r') {
				i = t.lines[t.lineOf(i)].end
			}
		}
	}
	return 0, fmt.Errorf("unterminated flow collection: %w", ErrUnsupportedLayout)
}

// end returns the offset where node n's text ends. parent is the column of the
// dash or key that holds it.
func (t *text) end(n *yaml.Node, parent int) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		_, end, err := t.scalarSpan(n, parent)
		return end, err
	case yaml.AliasNode:
		off, err := t.offset(n.Line, n.Column)
		if err != nil {
			return 0, err
		}
		return t.plainEnd(t.lineOf(off), off), nil
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 || len(n.Content) == 0 {
			off, err := t.offset(n.Line, n.Column)
			if err != nil {
				return 0, err
			}
			return t.flowEnd(off)
		}
		if n.Kind == yaml.SequenceNode {
			last := n.Content[len(n.Content)-1]
			col, _, err := t.dashCol(last)
			if err != nil {
				return 0, err
			}
			return t.end(last, col)
		}
		k, v := n.Content[len(n.Content)-2], n.Content[len(n.Content)-1]
		if v.Tag == "!!null" && v.Value == "" {
			return t.keyEnd(k)
		}
		return t.end(v, k.Column-1)
	}
	return 0, fmt.Errorf("line %d: unexpected node: %w", n.Line, ErrUnsupportedLayout)
}

// edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// apply returns src with the edits made. Edits must not overlap; insertions at
// the same offset land in list order, and an insertion at the start of a
// removed range lands before what follows it.
func apply(src []byte, edits []edit) []byte {
	order := make([]int, len(edits))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool {
		ea, eb := edits[order[a]], edits[order[b]]
		if ea.start != eb.start {
			return ea.start > eb.start
		}
		if ea.end != eb.end {
			return ea.end > eb.end
		}
		return order[a] > order[b]
	})
	out := append([]byte(nil), src...)
	for _, i := range order {
		e := edits[i]
		out = append(out[:e.start], append([]byte(e.text), out[e.end:]...)...)
	}
	return out
}

// insertAfter returns the edit that adds lines after line i, keeping a missing
// final line break missing.
func (t *text) insertAfter(i int, lines []string) edit {
	eol := t.eol(i)
	l := t.lines[i]
	if l.next == l.end {
		return edit{l.end, l.end, eol + strings.Join(lines, eol)}
	}
	return edit{l.next, l.next, strings.Join(lines, eol) + eol}
}

// deleteLines returns the edit that removes lines a..b, keeping a missing final
// line break missing.
func (t *text) deleteLines(a, b int) edit {
	start, end := t.lines[a].start, t.lines[b].next
	if t.lines[b].next == t.lines[b].end && a > 0 {
		start = t.lines[a-1].end
	}
	return edit{start, end, ""}
}

// Scalar rendering.

// printable reports whether s can be written between single quotes.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '\t' {
			continue
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0xFEFF || r == 0x2028 || r == 0x2029 || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// plainSafe reports whether s reads back as the same string when written plain.
func plainSafe(s string) bool {
	if s == "" || !printable(s) {
		return false
	}
	out, err := yaml.Marshal(s)
	return err == nil && string(out) == s+"\n"
}

// singleQuote writes s in single quotes.
func singleQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// doubleQuote writes s in double quotes with YAML escapes.
func doubleQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			fmt.Fprintf(&b, `\x%02X`, r)
		case r == 0xFEFF || r == 0x2028 || r == 0x2029 || (!unicode.IsPrint(r) && r != ' '):
			if r > 0xFFFF {
				fmt.Fprintf(&b, `\U%08X`, r)
			} else {
				fmt.Fprintf(&b, `\u%04X`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// render writes s in style when that style can hold it, else in the nearest one
// that can: plain, then single quotes, then double quotes.
func render(s string, style yaml.Style) string {
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		return doubleQuote(s)
	case style&yaml.SingleQuotedStyle != 0 && printable(s):
		return singleQuote(s)
	case style&yaml.SingleQuotedStyle == 0 && plainSafe(s):
		return s
	case printable(s):
		return singleQuote(s)
	}
	return doubleQuote(s)
}

// blockSafe reports whether s can be the one content line of a block scalar.
func blockSafe(s string) bool {
	return s != "" && printable(s) && strings.TrimSpace(s) == s && !strings.ContainsRune(s, '\t')
}
