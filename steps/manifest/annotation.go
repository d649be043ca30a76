package manifest

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ReplaceInAnnotation replaces old with new in the value of metadata.annotations[key]
// and reports whether it changed anything. kubeadm reads its
// "kubeadm.kubernetes.io/etcd.advertise-client-urls" annotation on join and upgrade, so
// it must follow --advertise-client-urls from http:// to https://. An absent annotation,
// or a value without old, is left alone. Only a one-line scalar is edited; anything else
// is ErrUnsupportedLayout, with nothing changed.
func (e *Editor) ReplaceInAnnotation(key, old, new string) (bool, error) {
	_, md := lookup(e.p.doc.Content[0], "metadata")
	_, anns := lookup(md, "annotations")
	_, v := lookup(anns, key)
	if v == nil || old == "" || v.Kind != yaml.ScalarNode || !strings.Contains(v.Value, old) {
		return false, nil
	}
	value := strings.ReplaceAll(v.Value, old, new)
	start, err := e.p.offset(v.Line, v.Column)
	if err != nil {
		return false, err
	}
	raw := render(v.Value, v.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle))
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || !strings.HasPrefix(string(e.p.src[start:]), raw) {
		return false, fmt.Errorf("%s: annotation %s: %w; edit it by hand", e.name, key, ErrUnsupportedLayout)
	}
	out := apply(e.p.src, []edit{{start, start + len(raw), render(value, v.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle))}})
	p2, err := parse(e.name, out)
	if err != nil {
		return false, fmt.Errorf("%s: annotation %s: the edited text would not parse (%v): %w; edit it by hand", e.name, key, err, ErrUnsupportedLayout)
	}
	want := deepCopy(e.p.gen).(map[string]any)
	if m, ok := want["metadata"].(map[string]any); ok {
		if a, ok := m["annotations"].(map[string]any); ok {
			a[key] = value
		}
	}
	if !reflect.DeepEqual(want, p2.gen) {
		return false, fmt.Errorf("%s: annotation %s: the text edit would change more than intended: %w; edit it by hand", e.name, key, ErrUnsupportedLayout)
	}
	e.data, e.p = out, p2
	return true, nil
}
