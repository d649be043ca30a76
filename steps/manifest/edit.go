// Package manifest makes minimal, comment-preserving edits to static pod manifests:
// flags set once in the list they already live in, hostPath volumes and mounts added
// with the file's own indentation. Every other byte of the file stays as it was.
//
// The file is parsed into a yaml.Node tree only to find where things are; the
// edits are made on the text at those lines, so comments, quoting, sequence
// indentation, line breaks (LF or CRLF) and a missing final newline all stay.
// After each edit the text is parsed again and its values compared with the
// values the edit should give; if anything else changed, the edit is refused
// and the manifest is left as it was.
//
// Not edited (ErrUnsupportedLayout): flow-style lists (command: ["etcd", "--x"])
// that would need an item changed or removed, items carrying tags or anchors,
// items that do not start on their dash's line, and flags inside a shell
// script (command: [sh, -c, "exec etcd ..."]).
package manifest

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Errors the editor wraps, for errors.Is.
var (
	// ErrInvalidManifest means the file is not one YAML document holding a Pod with containers.
	ErrInvalidManifest = errors.New("not a static pod manifest")
	// ErrContainerNotFound means no container has the name asked for.
	ErrContainerNotFound = errors.New("container not found")
	// ErrUnsupportedLayout means the part to edit is written in a form edited only by hand.
	ErrUnsupportedLayout = errors.New("layout not supported for minimal edits")
	// ErrMountConflict means the mount path is already taken by a different mount.
	ErrMountConflict = errors.New("mount path already in use")
	// ErrInvalidArgument means the flag name or mount asked for is malformed.
	ErrInvalidArgument = errors.New("invalid argument")
)

// Editor edits one manifest. Each method re-reads the node tree of the current bytes
// and changes only the lines it has to.
type Editor struct {
	name  string
	data  []byte
	p     *parsed
	notes []string
}

// HostPathMount is a hostPath volume and its mount in a container.
type HostPathMount struct {
	Name      string // volume name, e.g. "etcd-encryption"
	HostPath  string // path on the node
	MountPath string // path in the container
	ReadOnly  bool
	Type      string // hostPath type, e.g. "DirectoryOrCreate"; may be empty
}

// NewEditor returns an editor for the manifest named name (used in errors) with content data.
// It fails with ErrInvalidManifest unless data is one YAML document holding a Pod with
// at least one container.
func NewEditor(name string, data []byte) (*Editor, error) {
	p, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	return &Editor{name: name, data: data, p: p}, nil
}

// Name returns the name the editor uses in errors.
func (e *Editor) Name() string { return e.name }

// Bytes returns the edited manifest.
func (e *Editor) Bytes() []byte { return e.data }

// Flag returns the value of the last --flag in the container's command and args
// (the one etcd, and kube-apiserver for a single-value flag, uses): the text after
// "=", the next item for "--flag value", or "true" for a bare "--flag". ok is false
// when the flag or the container is absent.
func (e *Editor) Flag(container, flag string) (value string, ok bool) {
	name, err := flagName(flag)
	if err != nil {
		return "", false
	}
	c, _, err := e.p.container(e.name, container)
	if err != nil {
		return "", false
	}
	occ := find(flagLists(c), name)
	if len(occ) == 0 {
		return "", false
	}
	return occ[len(occ)-1].value, true
}

// Notes returns what the edits so far did beyond the edit asked for, for a person to
// read: duplicate flags removed or edited in each place.
func (e *Editor) Notes() []string { return e.notes }

// Argv returns the container's command followed by its args, as the kubelet
// would run them (non-string items are left out).
func (e *Editor) Argv(container string) ([]string, error) {
	c, _, err := e.p.container(e.name, container)
	if err != nil {
		return nil, err
	}
	var argv []string
	for _, seq := range flagLists(c) {
		for _, n := range items(seq) {
			if n.Kind == yaml.ScalarNode {
				argv = append(argv, n.Value)
			}
		}
	}
	return argv, nil
}

// SetFlag sets --flag=value in the container's command or args (where the container's
// flags already live), editing the existing item in place when the flag is present.
// container "" means the first container. A flag present more than once is edited
// where it takes effect (its last place, as etcd reads it) and removed elsewhere, and
// Notes says so; a bare "--flag" counts as "true". A new flag goes at the end of the
// list holding most flags, quoted like its neighbours. Setting the value a flag
// already has changes nothing.
func (e *Editor) SetFlag(container, flag, value string) error {
	name, err := flagName(flag)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	return e.change(container, "set --"+name, func(p *parsed, c *containerRef) (*change, error) {
		lists := flagLists(c.node)
		if err := checkFlagLists(lists); err != nil {
			return nil, err
		}
		var ops [2]listOps
		occ := find(lists, name)
		if len(occ) == 0 {
			ops[target(lists)].add = []string{"--" + name + "=" + value}
			return p.flagChange(c.node, c.index, ops)
		}
		last := occ[len(occ)-1]
		setAt(&ops, last, name, value)
		for _, o := range occ[:len(occ)-1] {
			removeAt(&ops, o)
		}
		ch, err := p.flagChange(c.node, c.index, ops)
		if ch != nil && len(occ) > 1 {
			ch.notes = append(ch.notes, fmt.Sprintf("%s gave --%s %d times (%s); kept the last, the one that takes effect, and removed the others",
				e.name, name, len(occ), occItems(occ, name)))
		}
		return ch, err
	})
}

// setAt sets occurrence o of flag name to value, in o's own form where it can.
func setAt(ops *[2]listOps, o occurrence, name, value string) {
	switch {
	case o.form == formSep && strings.HasPrefix(value, "-"):
		// "--k" "-v" would read as two flags: join them as --k=-v.
		ops[o.l].set(o.i, o.prefix+name+"="+value)
		ops[o.l].remove(o.i + 1)
	case o.form == formSep && o.value != value:
		ops[o.l].set(o.i+1, value)
	case o.form == formEq && o.value != value, o.form == formBare && value != "true":
		ops[o.l].set(o.i, o.prefix+name+"="+value)
	}
}

// removeAt removes occurrence o (and its value item in the "--k v" form).
func removeAt(ops *[2]listOps, o occurrence) {
	ops[o.l].remove(o.i)
	if o.form == formSep {
		ops[o.l].remove(o.i + 1)
	}
}

// occItems lists the occurrences as written: "--k=a, then --k b".
func occItems(occ []occurrence, name string) string {
	its := make([]string, len(occ))
	for i, o := range occ {
		switch o.form {
		case formEq:
			its[i] = o.prefix + name + "=" + o.value
		case formSep:
			its[i] = o.prefix + name + " " + o.value
		default:
			its[i] = o.prefix + name
		}
	}
	return strings.Join(its, ", then ")
}

// SetFlags sets several flags in one go, adding absent ones in name order. On
// error the manifest is left as it was before the call.
func (e *Editor) SetFlags(container string, flags map[string]string) error {
	names := make([]string, 0, len(flags))
	for k := range flags {
		names = append(names, k)
	}
	sort.Strings(names)
	data, p, notes := e.data, e.p, len(e.notes)
	for _, k := range names {
		if err := e.SetFlag(container, k, flags[k]); err != nil {
			e.data, e.p, e.notes = data, p, e.notes[:notes]
			return err
		}
	}
	return nil
}

// RemoveFlag removes every occurrence of --flag from the container's command and args.
func (e *Editor) RemoveFlag(container, flag string) error {
	name, err := flagName(flag)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	return e.change(container, "remove --"+name, func(p *parsed, c *containerRef) (*change, error) {
		lists := flagLists(c.node)
		var ops [2]listOps
		occ := find(lists, name)
		if len(occ) == 0 {
			return nil, nil
		}
		if err := checkFlagLists(lists); err != nil {
			return nil, err
		}
		for _, o := range occ {
			removeAt(&ops, o)
		}
		return p.flagChange(c.node, c.index, ops)
	})
}

// ReplaceInFlag replaces old with new in the value of --flag (e.g. "http://" with
// "https://" in --listen-client-urls) and reports whether it changed anything.
// A flag given more than once is changed in every place (a list flag of
// kube-apiserver joins them all; etcd uses the last), and Notes says so.
// An absent flag, or a value without old, is left alone.
func (e *Editor) ReplaceInFlag(container, flag, old, new string) (bool, error) {
	name, err := flagName(flag)
	if err != nil {
		return false, fmt.Errorf("%s: %w", e.name, err)
	}
	before := e.p
	err = e.change(container, "change --"+name, func(p *parsed, c *containerRef) (*change, error) {
		lists := flagLists(c.node)
		occ := find(lists, name)
		var ops [2]listOps
		changed := 0
		for _, o := range occ {
			if old != "" && strings.Contains(o.value, old) {
				setAt(&ops, o, name, strings.ReplaceAll(o.value, old, new))
				changed++
			}
		}
		if changed == 0 {
			return nil, nil
		}
		if err := checkFlagLists(lists); err != nil {
			return nil, err
		}
		ch, err := p.flagChange(c.node, c.index, ops)
		if ch != nil && len(occ) > 1 {
			ch.notes = append(ch.notes, fmt.Sprintf("%s gives --%s %d times (%s); replaced %s with %s in each",
				e.name, name, len(occ), occItems(occ, name), old, new))
		}
		return ch, err
	})
	return e.p != before, err
}

// EnsureHostPathMount adds the volume and the container's mount unless a mount already
// covers m.MountPath with the same host path (the same folder, or a parent folder
// mounted from the matching host folder, writable when m is). A volume that already
// points at m.HostPath is reused; a volume name taken by another volume gets a
// "-2", "-3"... suffix. New items copy the key order, nesting and quoting of the
// list's last item (kubeadm's sorted order when the list is new).
func (e *Editor) EnsureHostPathMount(container string, m HostPathMount) error {
	if err := m.check(); err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	return e.change(container, "mount "+m.MountPath, func(p *parsed, c *containerRef) (*change, error) {
		return p.mountChange(c.node, c.index, m)
	})
}

// containerRef is a container's node and its index in spec.containers.
type containerRef struct {
	node  *yaml.Node
	index int
}

// change is a text edit and the values the manifest should hold after it.
type change struct {
	edits  []edit
	expect func(gen map[string]any)
	notes  []string
}

// change builds an edit for the container, makes it, parses the result and
// checks that only the intended values changed; on any error nothing changes.
func (e *Editor) change(container, what string, build func(*parsed, *containerRef) (*change, error)) error {
	node, index, err := e.p.container(e.name, container)
	if err != nil {
		return err
	}
	cname := str(node, "name")
	ch, err := build(e.p, &containerRef{node, index})
	if err != nil {
		return fmt.Errorf("%s: container %q: %s: %w", e.name, cname, what, err)
	}
	if ch == nil || len(ch.edits) == 0 {
		return nil
	}
	out := apply(e.p.src, ch.edits)
	p2, err := parse(e.name, out)
	if err != nil {
		return fmt.Errorf("%s: container %q: %s: the edited text would not parse (%v): %w; make this edit by hand", e.name, cname, what, err, ErrUnsupportedLayout)
	}
	want := deepCopy(e.p.gen).(map[string]any)
	ch.expect(want)
	if !reflect.DeepEqual(want, p2.gen) {
		return fmt.Errorf("%s: container %q: %s: the text edit would change more than intended: %w; make this edit by hand", e.name, cname, what, ErrUnsupportedLayout)
	}
	e.data, e.p = out, p2
	e.notes = append(e.notes, ch.notes...)
	return nil
}

// deepCopy copies the maps and lists of a decoded YAML value.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case map[any]any:
		m := make(map[any]any, len(v))
		for k, x := range v {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = deepCopy(x)
		}
		return l
	}
	return v
}
