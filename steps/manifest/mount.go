package manifest

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// dnsLabel is the form of a volume name.
var dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// check validates m before any edit.
func (m HostPathMount) check() error {
	switch {
	case !dnsLabel.MatchString(m.Name):
		return fmt.Errorf("%w: volume name %q must be a DNS label (lower-case letters, digits, '-', at most 63)", ErrInvalidArgument, m.Name)
	case !path.IsAbs(m.HostPath):
		return fmt.Errorf("%w: host path %q must be absolute", ErrInvalidArgument, m.HostPath)
	case !path.IsAbs(m.MountPath):
		return fmt.Errorf("%w: mount path %q must be absolute", ErrInvalidArgument, m.MountPath)
	case strings.ContainsAny(m.HostPath+m.MountPath+m.Type, "\n\r"):
		return fmt.Errorf("%w: paths and type must be one line", ErrInvalidArgument)
	}
	return nil
}

// hostPath returns the hostPath.path of volume v.
func hostPath(v *yaml.Node) (string, bool) {
	_, hp := lookup(v, "hostPath")
	if hp == nil || hp.Kind != yaml.MappingNode {
		return "", false
	}
	p := str(hp, "path")
	return p, p != ""
}

// mountChange builds the edits that give container c (index ci) the mount m.
func (p *parsed) mountChange(c *yaml.Node, ci int, m HostPathMount) (*change, error) {
	_, mounts := lookup(c, "volumeMounts")
	_, vols := lookup(p.spec, "volumes")
	byName := map[string]*yaml.Node{}
	for _, v := range items(vols) {
		if n := str(v, "name"); n != "" {
			byName[n] = v
		}
	}
	for _, mt := range items(mounts) {
		mp := str(mt, "mountPath")
		rel, ok := under(m.MountPath, mp)
		if !ok || mp == "" {
			continue
		}
		hp, isHost := hostPath(byName[str(mt, "name")])
		ro := str(mt, "readOnly") == "true"
		if isHost && path.Join(hp, rel) == path.Clean(m.HostPath) && (m.ReadOnly || !ro) {
			return nil, nil
		}
		if rel == "" {
			return nil, fmt.Errorf("%w: %s is already mounted from volume %q (host path %q, readOnly %v); remove that mount or choose another mount path",
				ErrMountConflict, mp, str(mt, "name"), hp, ro)
		}
	}

	name, addVolume := m.Name, true
	for _, v := range items(vols) {
		if hp, ok := hostPath(v); ok && path.Clean(hp) == path.Clean(m.HostPath) && str(v, "name") != "" {
			name, addVolume = str(v, "name"), false
			break
		}
	}
	for i := 2; addVolume && byName[name] != nil; i++ {
		suffix := "-" + strconv.Itoa(i)
		name = m.Name[:min(len(m.Name), 63-len(suffix))] + suffix
	}

	mount := map[string]any{"mountPath": m.MountPath, "name": name}
	if m.ReadOnly {
		mount["readOnly"] = true
	}
	hpv := map[string]any{"path": m.HostPath}
	if m.Type != "" {
		hpv["type"] = m.Type
	}
	volume := map[string]any{"hostPath": hpv, "name": name}

	holder, _, err := p.dashCol(c)
	if err != nil {
		return nil, err
	}
	ch := &change{}
	e, err := p.addMapItem(c, "volumeMounts", holder, p.seqIndent(c), mount)
	if err != nil {
		return nil, fmt.Errorf("volumeMounts: %w", err)
	}
	ch.edits = append(ch.edits, e...)
	if addVolume {
		k, _ := lookup(p.doc.Content[0], "spec")
		ck, _ := lookup(p.spec, "containers")
		indent := 0
		if col, _, err := p.dashCol(p.containers.Content[0]); err == nil {
			indent = col - (ck.Column - 1)
		}
		e, err := p.addMapItem(p.spec, "volumes", k.Column-1, indent, volume)
		if err != nil {
			return nil, fmt.Errorf("spec.volumes: %w", err)
		}
		ch.edits = append(ch.edits, e...)
	}
	ch.expect = func(gen map[string]any) {
		cm := genContainer(gen, ci)
		old, _ := cm["volumeMounts"].([]any)
		cm["volumeMounts"] = append(old, mount)
		if addVolume {
			spec, _ := gen["spec"].(map[string]any)
			old, _ := spec["volumes"].([]any)
			spec["volumes"] = append(old, volume)
		}
	}
	return ch, nil
}

// kubeadmOrder is the key order kubeadm writes (sorted).
var kubeadmOrder = map[string][]string{
	"":         {"hostPath", "mountPath", "name", "readOnly"},
	"hostPath": {"path", "type"},
}

// addMapItem appends item (values: strings, bools or one nested map) to the
// list under key in mapping m, laid out like the list's last item.
func (p *parsed) addMapItem(m *yaml.Node, key string, holder, indent int, item map[string]any) ([]edit, error) {
	spot, err := p.seqSpot(m, key, holder, indent)
	if err != nil {
		return nil, err
	}
	var nb *yaml.Node
	for i := len(spot.items) - 1; i >= 0 && nb == nil; i-- {
		if spot.items[i].Kind == yaml.MappingNode {
			nb = spot.items[i]
		}
	}
	keyCol := spot.dash + 1 + len(spot.gap)
	lines := spot.prefix
	first := strings.Repeat(" ", spot.dash) + "-" + spot.gap
	p.writeMap(&lines, first, keyCol, nb, "", item)
	return append(spot.edits, p.insertAfter(spot.after, lines)), nil
}

// writeMap appends the lines of mapping item at column col, the first line
// starting with first; nb is an existing mapping to copy key order, nesting and
// quoting from.
func (p *parsed) writeMap(lines *[]string, first string, col int, nb *yaml.Node, kind string, item map[string]any) {
	var order []string
	if nb != nil {
		for i := 0; i+1 < len(nb.Content); i += 2 {
			if k := nb.Content[i].Value; item[k] != nil && !slices.Contains(order, k) {
				order = append(order, k)
			}
		}
	}
	for _, k := range kubeadmOrder[kind] {
		if item[k] != nil && !slices.Contains(order, k) {
			order = append(order, k)
		}
	}
	lead := first
	for _, k := range order {
		_, nv := lookup(nb, k)
		switch v := item[k].(type) {
		case map[string]any:
			*lines = append(*lines, lead+k+":")
			sub := 2
			if nv != nil && nv.Kind == yaml.MappingNode && len(nv.Content) > 0 {
				sub = max(nv.Content[0].Column-1-col, 1)
			}
			p.writeMap(lines, strings.Repeat(" ", col+sub), col+sub, nv, k, v)
		case bool:
			*lines = append(*lines, lead+k+": "+strconv.FormatBool(v))
		case string:
			var style yaml.Style
			if nv != nil && nv.Kind == yaml.ScalarNode {
				style = nv.Style & (yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle)
			}
			*lines = append(*lines, lead+k+": "+render(v, style))
		}
		lead = strings.Repeat(" ", col)
	}
}
