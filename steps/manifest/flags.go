package manifest

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// listNames are the two lists a container's flags can live in, in argv order.
var listNames = [2]string{"command", "args"}

// flagName accepts "cert-file" or "--cert-file" and returns "cert-file".
func flagName(flag string) (string, error) {
	n := strings.TrimPrefix(strings.TrimPrefix(flag, "-"), "-")
	if n == "" || strings.HasPrefix(n, "-") || strings.IndexFunc(n, notFlagRune) >= 0 {
		return "", fmt.Errorf("%w: %q is not a flag name (want e.g. \"cert-file\" or \"--cert-file\")", ErrInvalidArgument, flag)
	}
	return n, nil
}

// notFlagRune reports a rune no flag name of etcd or kube-apiserver holds: they are
// letters, digits, '-', '_' and '.'; anything else (a blank, '=', a control byte) would
// be written quoted or escaped and never read back as the flag.
func notFlagRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// parseArg splits "--name=value", "-name=value", "--name" or "-name".
func parseArg(arg string) (prefix, name, value string, hasValue, ok bool) {
	switch {
	case strings.HasPrefix(arg, "--"):
		prefix = "--"
	case strings.HasPrefix(arg, "-"):
		prefix = "-"
	default:
		return "", "", "", false, false
	}
	rest := arg[len(prefix):]
	name, value, hasValue = strings.Cut(rest, "=")
	if name == "" || strings.HasPrefix(name, "-") {
		return "", "", "", false, false
	}
	return prefix, name, value, hasValue, true
}

// items returns the scalar-or-not items of a block or flow sequence value.
func items(seq *yaml.Node) []*yaml.Node {
	if seq == nil || seq.Kind != yaml.SequenceNode {
		return nil
	}
	return seq.Content
}

// occurrence is one place a flag is set: item i of list l (0 command, 1 args).
type occurrence struct {
	l, i   int
	prefix string
	value  string
	form   int
}

const (
	formEq   = iota // --k=v
	formSep         // --k v
	formBare        // --k
)

// flagLists returns the container's command and args values.
func flagLists(c *yaml.Node) (lists [2]*yaml.Node) {
	for l, key := range listNames {
		_, lists[l] = lookup(c, key)
	}
	return lists
}

// find returns every occurrence of flag name in the container's lists.
func find(lists [2]*yaml.Node, name string) []occurrence {
	var out []occurrence
	for l, seq := range lists {
		its := items(seq)
		for i, n := range its {
			if n.Kind != yaml.ScalarNode {
				continue
			}
			prefix, k, v, hasValue, ok := parseArg(n.Value)
			if !ok || k != name {
				continue
			}
			o := occurrence{l: l, i: i, prefix: prefix, value: v, form: formEq}
			if !hasValue {
				o.form, o.value = formBare, "true"
				if i+1 < len(its) && its[i+1].Kind == yaml.ScalarNode && !strings.HasPrefix(its[i+1].Value, "-") {
					o.form, o.value = formSep, its[i+1].Value
				}
			}
			out = append(out, o)
		}
	}
	return out
}

// listOps are the changes to one list: items replaced, items removed, items added.
type listOps struct {
	replace map[int]string
	del     map[int]bool
	add     []string
}

func (o *listOps) set(i int, v string) {
	if o.replace == nil {
		o.replace = map[int]string{}
	}
	o.replace[i] = v
}

func (o *listOps) remove(i int) {
	if o.del == nil {
		o.del = map[int]bool{}
	}
	o.del[i] = true
}

func (o *listOps) empty() bool { return len(o.replace) == 0 && len(o.del) == 0 && len(o.add) == 0 }

// applyValues applies o to the plain values of a list.
func (o *listOps) applyValues(old []any) []any {
	out := make([]any, 0, len(old)+len(o.add))
	for i, x := range old {
		if o.del[i] {
			continue
		}
		if v, ok := o.replace[i]; ok {
			x = v
		}
		out = append(out, x)
	}
	for _, v := range o.add {
		out = append(out, v)
	}
	return out
}

// shells are the commands whose flags live inside a script.
var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true}

// checkFlagLists refuses containers whose flags this tool cannot edit as items.
func checkFlagLists(lists [2]*yaml.Node) error {
	if its := items(lists[0]); len(its) > 0 && shells[path.Base(its[0].Value)] {
		return fmt.Errorf("%w: it runs %s, so its flags are inside a shell script; edit them by hand", ErrUnsupportedLayout, its[0].Value)
	}
	if lists[0] == nil && lists[1] == nil {
		return fmt.Errorf("%w: it has no command or args list to hold flags", ErrUnsupportedLayout)
	}
	return nil
}

// target picks the list new flags go to: the one that holds most flags (args on
// a tie), else args when present, else command.
func target(lists [2]*yaml.Node) int {
	var n [2]int
	for l, seq := range lists {
		for _, it := range items(seq) {
			if _, _, _, _, ok := parseArg(it.Value); ok {
				n[l]++
			}
		}
	}
	switch {
	case n[0] == 0 && n[1] == 0:
		if lists[1] != nil {
			return 1
		}
		return 0
	case n[1] >= n[0]:
		return 1
	}
	return 0
}

// flagChange turns ops on the container's lists into text edits and the
// expected plain values.
func (p *parsed) flagChange(c *yaml.Node, ci int, ops [2]listOps) (*change, error) {
	ch := &change{}
	for l, key := range listNames {
		if ops[l].empty() {
			continue
		}
		edits, err := p.listEdits(c, key, &ops[l])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		ch.edits = append(ch.edits, edits...)
	}
	ch.expect = func(gen map[string]any) {
		cm := genContainer(gen, ci)
		for l, key := range listNames {
			if !ops[l].empty() {
				old, _ := cm[key].([]any)
				cm[key] = ops[l].applyValues(old)
			}
		}
	}
	return ch, nil
}

// listEdits writes ops on the list under key in container c as text edits.
func (p *parsed) listEdits(c *yaml.Node, key string, ops *listOps) ([]edit, error) {
	k, seq := lookup(c, key)
	its := items(seq)
	if (len(ops.replace) > 0 || len(ops.del) > 0) && seq.Style&yaml.FlowStyle != 0 {
		return nil, fmt.Errorf("line %d: a flow-style list ([...]) is not edited: %w; rewrite it as a block list or edit it by hand", seq.Line, ErrUnsupportedLayout)
	}
	var edits []edit
	for i, v := range ops.replace {
		e, err := p.replaceItem(its[i], v)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e)
	}
	if len(ops.del) > 0 {
		e, err := p.deleteItems(its, ops.del)
		if err != nil {
			return nil, err
		}
		edits = append(edits, e...)
		if len(ops.del) == len(its) && len(ops.add) == 0 {
			// key: with nothing would be null; keep it an empty list.
			end, err := p.keyEnd(k)
			if err != nil {
				return nil, err
			}
			if end >= len(p.src) || p.src[end] != ':' {
				return nil, fmt.Errorf("line %d: no colon right after %s: %w", k.Line, key, ErrUnsupportedLayout)
			}
			edits = append(edits, edit{end + 1, end + 1, " []"})
		}
	}
	if len(ops.add) > 0 {
		spot, err := p.seqSpot(c, key, 0, p.seqIndent(c))
		if err != nil {
			return nil, err
		}
		style := neighbourStyle(its)
		lines := spot.prefix
		for _, v := range ops.add {
			lines = append(lines, strings.Repeat(" ", spot.dash)+"-"+spot.gap+render(v, style))
		}
		edits = append(edits, spot.edits...)
		edits = append(edits, p.insertAfter(spot.after, lines))
	}
	return edits, nil
}

// neighbourStyle is the quoting of the list's last flag, so new flags look like
// the ones around them.
func neighbourStyle(its []*yaml.Node) yaml.Style {
	const quotes = yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle
	for i := len(its) - 1; i >= 0; i-- {
		n := its[i]
		if n.Kind == yaml.ScalarNode && strings.HasPrefix(n.Value, "-") && n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
			return n.Style & quotes
		}
	}
	return 0
}

// replaceItem rewrites scalar item n to hold v, in its own style where it can.
func (p *parsed) replaceItem(n *yaml.Node, v string) (edit, error) {
	if n.Kind != yaml.ScalarNode {
		return edit{}, fmt.Errorf("line %d: item is not a string: %w", n.Line, ErrUnsupportedLayout)
	}
	dash, _, err := p.dashCol(n)
	if err != nil {
		return edit{}, err
	}
	start, end, err := p.scalarSpan(n, dash)
	if err != nil {
		return edit{}, err
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		h := p.lineOf(start)
		header := string(p.src[start:p.plainEnd(h, start)])
		if first, last, ind := p.blockLines(h, dash); (header == ">-" || header == "|-") && first >= 0 && blockSafe(v) {
			return edit{p.lines[first].start + ind, p.lines[last].end, v}, nil
		}
	}
	return edit{start, end, render(v, n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle))}, nil
}

// deleteItems removes the lines of the items marked in del.
func (p *parsed) deleteItems(its []*yaml.Node, del map[int]bool) ([]edit, error) {
	type span struct{ a, b int }
	var spans []span
	for i := range del {
		n := its[i]
		dash, _, err := p.dashCol(n)
		if err != nil {
			return nil, err
		}
		a := n.Line - 1
		if !p.wholeLine(a, dash) {
			return nil, fmt.Errorf("line %d: item shares its line with other text: %w", n.Line, ErrUnsupportedLayout)
		}
		end, err := p.end(n, dash)
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{a, p.lineOf(end)})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].a < spans[j].a })
	var edits []edit
	for i := 0; i < len(spans); {
		s := spans[i]
		for i++; i < len(spans) && spans[i].a <= s.b+1; i++ {
			s.b = max(s.b, spans[i].b)
		}
		edits = append(edits, p.deleteLines(s.a, s.b))
	}
	return edits, nil
}
