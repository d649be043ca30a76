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
	name string
	data []byte
	p    *parsed
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

// Flag returns the value of the first --flag in the container's command and args:
// the text after "=", the next item for "--flag value", or "true" for a bare
// "--flag". ok is false when the flag or the container is absent.
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
	return occ[0].value, true
}

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
// container "" means the first container. A flag present more than once is kept
// at its first place and removed elsewhere; a bare "--flag" counts as "true".
// A new flag goes at the end of the list holding most flags, quoted like its
// neighbours. Setting the value a flag already has changes nothing.
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
		switch o := occ[0]; {
		case o.form == formSep && strings.HasPrefix(value, "-"):
			// "--k" "-v" would read as two flags: join them as --k=-v.
			ops[o.l].set(o.i, o.prefix+name+"="+value)
			ops[o.l].remove(o.i + 1)
		case o.form == formSep && o.value != value:
			ops[o.l].set(o.i+1, value)
		case o.form == formEq && o.value != value, o.form == formBare && value != "true":
			ops[o.l].set(o.i, o.prefix+name+"="+value)
		}
		for _, o := range occ[1:] {
			ops[o.l].remove(o.i)
			if o.form == formSep {
				ops[o.l].remove(o.i + 1)
			}
		}
		return p.flagChange(c.node, c.index, ops)
	})
}

// SetFlags sets several flags in one go, adding absent ones in name order. On
// error the manifest is left as it was before the call.
func (e *Editor) SetFlags(container string, flags map[string]string) error {
	names := make([]string, 0, len(flags))
	for k := range flags {
		names = append(names, k)
	}
	sort.Strings(names)
	data, p := e.data, e.p
	for _, k := range names {
		if err := e.SetFlag(container, k, flags[k]); err != nil {
			e.data, e.p = data, p
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
			ops[o.l].remove(o.i)
			if o.form == formSep {
				ops[o.l].remove(o.i + 1)
			}
		}
		return p.flagChange(c.node, c.index, ops)
	})
}

// ReplaceInFlag replaces old with new in the value of --flag (e.g. "http://" with
// "https://" in --listen-client-urls) and reports whether it changed anything.
// An absent flag, or a value without old, is left alone.
func (e *Editor) ReplaceInFlag(container, flag, old, new string) (bool, error) {
	v, ok := e.Flag(container, flag)
	if !ok || old == "" || !strings.Contains(v, old) {
		if _, _, err := e.p.container(e.name, container); err != nil {
			return false, err
		}
		return false, nil
	}
	before := e.p
	if err := e.SetFlag(container, flag, strings.ReplaceAll(v, old, new)); err != nil {
		return false, err
	}
	return e.p != before, nil
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
