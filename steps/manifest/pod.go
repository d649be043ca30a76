package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parsed is one version of the manifest: its text, node tree and plain values.
type parsed struct {
	*text
	doc        *yaml.Node // document node
	spec       *yaml.Node // spec mapping
	containers *yaml.Node // spec.containers sequence
	gen        map[string]any
}

// parse reads src as a single Pod document with at least one container.
func parse(name string, src []byte) (*parsed, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty: %w; restore it from a backup", name, ErrInvalidManifest)
		}
		return nil, fmt.Errorf("%s: %w: %w; fix the YAML or restore the file from a backup", name, ErrInvalidManifest, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, fmt.Errorf("%s: %w: it holds more than one YAML document; a static pod manifest holds one Pod", name, ErrInvalidManifest)
		}
		return nil, fmt.Errorf("%s: %w: %w; fix the YAML or restore the file from a backup", name, ErrInvalidManifest, err)
	}
	p := &parsed{text: newText(src), doc: &doc}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: %w: the top level is not a mapping", name, ErrInvalidManifest)
	}
	if err := doc.Decode(&p.gen); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", name, ErrInvalidManifest, err)
	}
	root := doc.Content[0]
	if _, k := lookup(root, "kind"); k != nil && k.Value != "Pod" {
		return nil, fmt.Errorf("%s: %w: kind is %q, not Pod", name, ErrInvalidManifest, k.Value)
	}
	_, p.spec = lookup(root, "spec")
	if _, ok := p.gen["spec"].(map[string]any); !ok || p.spec == nil || p.spec.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: %w: spec is missing or not a mapping", name, ErrInvalidManifest)
	}
	_, p.containers = lookup(p.spec, "containers")
	if p.containers == nil || p.containers.Kind != yaml.SequenceNode || len(p.containers.Content) == 0 {
		return nil, fmt.Errorf("%s: %w: spec.containers is missing or empty", name, ErrInvalidManifest)
	}
	spec, _ := p.gen["spec"].(map[string]any)
	cs, _ := spec["containers"].([]any)
	for i, c := range p.containers.Content {
		if i >= len(cs) {
			return nil, fmt.Errorf("%s: %w: spec.containers does not read back as a list", name, ErrInvalidManifest)
		}
		if _, ok := cs[i].(map[string]any); c.Kind != yaml.MappingNode || !ok {
			return nil, fmt.Errorf("%s: %w: spec.containers[%d] is not a mapping with string keys", name, ErrInvalidManifest, i)
		}
	}
	return p, nil
}

// lookup returns the key and value nodes of key in mapping m.
func lookup(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// str returns the string value of key in mapping m.
func str(m *yaml.Node, key string) string {
	if _, v := lookup(m, key); v != nil && v.Kind == yaml.ScalarNode {
		return v.Value
	}
	return ""
}

// container finds the container named name ("" for the first) and its index.
func (p *parsed) container(file, name string) (*yaml.Node, int, error) {
	var names []string
	for i, c := range p.containers.Content {
		if name == "" || str(c, "name") == name {
			return c, i, nil
		}
		names = append(names, str(c, "name"))
	}
	return nil, 0, fmt.Errorf("%s: %w: no container named %q (it has %s)", file, ErrContainerNotFound, name, strings.Join(names, ", "))
}

// genContainer returns container i of the plain values gen.
func genContainer(gen map[string]any, i int) map[string]any {
	spec, _ := gen["spec"].(map[string]any)
	cs, _ := spec["containers"].([]any)
	c, _ := cs[i].(map[string]any)
	return c
}

// seqIndent returns how far the items of a block sequence sit right of its
// key in this file, judged from the container's lists, then spec.containers.
func (p *parsed) seqIndent(c *yaml.Node) int {
	for _, key := range []string{"command", "args", "volumeMounts", "env", "ports"} {
		k, v := lookup(c, key)
		if v != nil && v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0 {
			if col, _, err := p.dashCol(v.Content[0]); err == nil {
				return col - (k.Column - 1)
			}
		}
	}
	k, _ := lookup(p.spec, "containers")
	if col, _, err := p.dashCol(p.containers.Content[0]); err == nil {
		return col - (k.Column - 1)
	}
	return 0
}

// seqSpot is where new items of a block sequence go.
type seqSpot struct {
	edits  []edit
	after  int      // line after which new items go
	prefix []string // lines to write before the items (a new key)
	dash   int
	gap    string
	items  []*yaml.Node
}

// seqSpot finds where items of key's list in mapping m go: after its last item,
// after "key:" when it is empty (an empty "[]" is removed), or under a new key
// at the end of m when key is missing. holder is the column of the dash or key
// that holds m; indent is how far items sit right of their key.
func (p *parsed) seqSpot(m *yaml.Node, key string, holder, indent int) (*seqSpot, error) {
	k, v := lookup(m, key)
	if k == nil {
		end, err := p.end(m, holder)
		if err != nil {
			return nil, err
		}
		col := m.Content[0].Column - 1
		return &seqSpot{
			after:  p.lineOf(end),
			prefix: []string{strings.Repeat(" ", col) + key + ":"},
			dash:   col + indent,
			gap:    " ",
		}, nil
	}
	spot := &seqSpot{dash: k.Column - 1 + indent, gap: " "}
	switch {
	case v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && len(v.Content) > 0:
		last := v.Content[len(v.Content)-1]
		col, gap, err := p.dashCol(last)
		if err != nil {
			return nil, err
		}
		end, err := p.end(last, col)
		if err != nil {
			return nil, err
		}
		spot.after, spot.dash, spot.gap, spot.items = p.lineOf(end), col, gap, v.Content
	case v.Kind == yaml.SequenceNode && len(v.Content) == 0:
		// key: [] becomes key: and block items.
		off, err := p.offset(v.Line, v.Column)
		if err != nil {
			return nil, err
		}
		end, err := p.flowEnd(off)
		if err != nil {
			return nil, err
		}
		for off > 0 && p.src[off-1] == ' ' {
			off--
		}
		spot.edits = []edit{{off, end, ""}}
		spot.after = p.lineOf(end)
	case v.Kind == yaml.ScalarNode && v.Tag == "!!null" && v.Value == "":
		spot.after = k.Line - 1
	default:
		return nil, fmt.Errorf("line %d: %s is written in a form this tool does not edit (flow style or not a list): %w", k.Line, key, ErrUnsupportedLayout)
	}
	return spot, nil
}

// under reports whether p is dir or inside it, and the rest of the path.
func under(p, dir string) (string, bool) {
	p, dir = path.Clean(p), path.Clean(dir)
	if p == dir {
		return "", true
	}
	if dir == "/" {
		return strings.TrimPrefix(p, "/"), strings.HasPrefix(p, "/")
	}
	if strings.HasPrefix(p, dir+"/") {
		return p[len(dir)+1:], true
	}
	return "", false
}
