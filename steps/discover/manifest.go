package discover

import (
	"bytes"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// Kinds of manifest problems; ParseError.Is matches them, so callers test with errors.Is.
var (
	ErrMissing      = errors.New("manifest missing")
	ErrUnreadable   = errors.New("manifest unreadable")
	ErrTemplate     = errors.New("manifest is a template")
	ErrInvalidYAML  = errors.New("manifest is not valid YAML")
	ErrNotPod       = errors.New("manifest is not a Pod")
	ErrElided       = errors.New("manifest is elided")
	ErrInvalidPod   = errors.New("manifest is not a valid Pod")
	ErrNoContainer  = errors.New("manifest has no matching container")
	ErrShellScript  = errors.New("flags are inside a shell script")
	ErrMalformedArg = errors.New("malformed argument")
)

// ParseError is a problem with one manifest file: which file, which line when known,
// what is wrong and what to do.
type ParseError struct {
	Path string // the file, as given to ParseManifest
	Line int    // 1-based; 0 when not tied to a line
	Kind error  // one of the Err* values above
	Msg  string // what happened and what to do
	Err  error  // the underlying error, if any
}

// Error returns "path:line: msg: cause".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }

// Is reports whether target is the error's Kind.
func (e *ParseError) Is(target error) bool { return target == e.Kind }

var shells = map[string]bool{"sh": true, "bash": true, "ash": true, "dash": true, "zsh": true, "busybox": true}

// ParseManifest parses a static pod manifest (data, read from the host path path under
// root) and finds the container that runs binary ("etcd", "kube-apiserver"): the one
// whose command[0] (or args[0] when command is empty) has that base name, else the one
// named binary. Its flags come from command (after the binary) and then args.
func ParseManifest(root, path string, data []byte, binary string) (*Manifest, error) {
	fail := func(kind error, line int, err error, format string, a ...any) error {
		return &ParseError{Path: path, Line: line, Kind: kind, Msg: fmt.Sprintf(format, a...), Err: err}
	}
	if line := lineOf(data, "{{"); line > 0 {
		return nil, fail(ErrTemplate, line, nil, "looks like a Go template ({{ ... }}); render it first and point etcd-harden at the rendered manifest")
	}
	m := &Manifest{Path: path, Root: root, Raw: data}
	m.RelPath = Layout{Root: root}.Rel(path)
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fail(ErrNotPod, 0, nil, "file is empty; expected a static Pod manifest")
	}
	if err := yaml.Unmarshal(data, &m.Pod); err != nil {
		return nil, fail(ErrInvalidYAML, yamlErrLine(err), err, "not valid YAML (mangled indentation or a stray character?); fix the file or restore it from a backup")
	}
	if err := yaml.UnmarshalStrict(data, &corev1.Pod{}); err != nil {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%s: %v (the kubelet ignores it)", path, unknownField(err)))
	}
	if m.Pod.Kind != "Pod" {
		kind := m.Pod.Kind
		if kind == "" {
			kind = "none"
		}
		return nil, fail(ErrNotPod, lineOf(data, "kind:"), nil, "not a Pod (kind: %s); expected a static Pod manifest with kind: Pod", kind)
	}
	if len(m.Pod.Spec.Containers) == 0 {
		if line := docEndLine(data); line > 0 {
			return nil, fail(ErrElided, line, nil, "the YAML document ends at this '...' line and leaves the Pod without containers; this looks like an elided snippet, use the complete manifest")
		}
		return nil, fail(ErrNoContainer, 0, nil, "the Pod has no containers; expected a container that runs %s", binary)
	}
	if err := checkVolumes(&m.Pod); err != nil {
		return nil, fail(ErrInvalidPod, 0, nil, "invalid Pod, the kubelet would reject it: %s; fix the volumes", err)
	}
	i, err := findContainer(m.Pod.Spec.Containers, binary)
	if err != nil {
		return nil, &ParseError{Path: path, Kind: kindOf(err), Msg: err.Error()}
	}
	c := m.Pod.Spec.Containers[i]
	m.ContainerIndex, m.Container, m.Image = i, c.Name, c.Image
	m.ImageTag = imageTag(c.Image)
	m.Binary = binary
	m.Flags = containerFlags(c, binary)
	if f := malformed(m.Flags); f != nil {
		return nil, fail(ErrMalformedArg, lineOf(data, f.item()), nil, "%s", f.malformedMsg(binary))
	}
	return m, nil
}

// kindError carries an Err* kind with a message, inside this file only.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }

func kindOf(err error) error {
	var k *kindError
	if errors.As(err, &k) {
		return k.kind
	}
	return ErrNoContainer
}

// findContainer picks the container running binary: by the base name of its command
// (or args) first, by container name second, so a sidecar named "etcd-metrics" or an
// etcdctl sidecar does not win over the real one.
func findContainer(cs []corev1.Container, binary string) (int, error) {
	byName := -1
	for i, c := range cs {
		if runs(c, binary) {
			return i, nil
		}
		if c.Name == binary && byName < 0 {
			byName = i
		}
	}
	shell := -1
	for i, c := range cs {
		if shellRuns(c, binary) && (byName < 0 || byName == i) {
			shell = i
			break
		}
	}
	if shell >= 0 {
		return 0, &kindError{ErrShellScript, fmt.Sprintf(
			"container %q runs %s from a shell script (%s -c); etcd-harden can't edit shell scripts: move the flags into the container's command/args list",
			cs[shell].Name, binary, cs[shell].Command[0])}
	}
	if byName >= 0 {
		return byName, nil
	}
	names := make([]string, len(cs))
	for i, c := range cs {
		names[i] = c.Name
	}
	return 0, &kindError{ErrNoContainer, fmt.Sprintf(
		"no container runs %s (containers: %s); expected command: [%s, ...] or a container named %s",
		binary, strings.Join(names, ", "), binary, binary)}
}

func runs(c corev1.Container, binary string) bool {
	if len(c.Command) > 0 {
		return path.Base(c.Command[0]) == binary
	}
	return len(c.Args) > 0 && path.Base(c.Args[0]) == binary
}

// shellRuns reports whether c is "sh -c <script>" whose script mentions binary.
func shellRuns(c corev1.Container, binary string) bool {
	items := append(append([]string{}, c.Command...), c.Args...)
	if len(items) < 2 || !shells[path.Base(items[0])] {
		return false
	}
	re := regexp.MustCompile(`(^|[\s/])` + regexp.QuoteMeta(binary) + `(\s|$)`)
	for _, it := range items[1:] {
		if re.MatchString(it) {
			return true
		}
	}
	return false
}

// containerFlags parses the flags after the binary in command, then args.
func containerFlags(c corev1.Container, binary string) []Flag {
	var flags []Flag
	cmd, args := c.Command, c.Args
	cmdStart, argsStart := 1, 0
	if len(cmd) == 0 && len(args) > 0 && path.Base(args[0]) == binary {
		argsStart = 1
	}
	if len(cmd) > 0 {
		for _, f := range parseFrom(cmd, cmdStart) {
			f.List = "command"
			flags = append(flags, f)
		}
	}
	for _, f := range parseFrom(args, argsStart) {
		f.List = "args"
		flags = append(flags, f)
	}
	return flags
}

func parseFrom(items []string, start int) []Flag {
	if start >= len(items) {
		return nil
	}
	fs := ParseFlags(items[start:])
	for i := range fs {
		fs[i].Index += start
	}
	return fs
}

// ParseFlags parses command-line items the way Go's flag and pflag packages read them:
// "--name=value", "--name value", "-name=value", and a bare "--name" (a boolean, or a
// flag whose value is the next item when that item does not start with "-"). Items that
// are not flags are skipped; "--" ends the flags. Index is the item's index in items.
func ParseFlags(items []string) []Flag {
	var flags []Flag
	for i := 0; i < len(items); i++ {
		it := items[i]
		if it == "--" {
			break
		}
		if len(it) < 2 || it[0] != '-' || it == "-" {
			continue
		}
		dashes := 1
		if it[1] == '-' {
			dashes = 2
		}
		body := it[dashes:]
		if body == "" || body[0] == '-' || body[0] == '=' {
			continue
		}
		f := Flag{Index: i, Dashes: dashes}
		if name, value, ok := strings.Cut(body, "="); ok {
			f.Name, f.Value, f.HasValue = name, value, true
		} else {
			f.Name = body
			if i+1 < len(items) && !strings.HasPrefix(items[i+1], "-") {
				f.Value, f.HasValue, f.Separate = items[i+1], true, true
				i++
			}
		}
		flags = append(flags, f)
	}
	return flags
}

// Flag returns the value of the flag name ("cert-file" or "--cert-file"). When it is
// given more than once the last one wins, as in etcd's and kube-apiserver's own flag
// parsers. A bare boolean gives ("", true).
func (m *Manifest) Flag(name string) (value string, ok bool) {
	f := m.Lookup(name)
	if f == nil {
		return "", false
	}
	return f.Value, true
}

// Lookup returns the last occurrence of the flag name, or nil.
func (m *Manifest) Lookup(name string) *Flag {
	name = strings.TrimLeft(name, "-")
	for i := len(m.Flags) - 1; i >= 0; i-- {
		if m.Flags[i].Name == name {
			return &m.Flags[i]
		}
	}
	return nil
}

// FlagCount returns how many times the flag name is given.
func (m *Manifest) FlagCount(name string) int {
	name = strings.TrimLeft(name, "-")
	n := 0
	for _, f := range m.Flags {
		if f.Name == name {
			n++
		}
	}
	return n
}

// Env returns the value of an environment variable set in the container spec (literal
// values only; valueFrom is not resolved).
func (m *Manifest) Env(name string) (string, bool) {
	c := m.ContainerSpec()
	if c == nil {
		return "", false
	}
	for i := len(c.Env) - 1; i >= 0; i-- {
		if c.Env[i].Name == name && c.Env[i].ValueFrom == nil {
			return c.Env[i].Value, true
		}
	}
	return "", false
}

// ContainerSpec returns the container that runs the binary.
func (m *Manifest) ContainerSpec() *corev1.Container {
	if m.ContainerIndex < 0 || m.ContainerIndex >= len(m.Pod.Spec.Containers) {
		return nil
	}
	return &m.Pod.Spec.Containers[m.ContainerIndex]
}

// HostPath maps containerPath, an absolute path inside the container, to the host path
// under Root through the container's volumeMounts and the pod's hostPath volumes. The
// mount with the longest mount path that contains containerPath wins (as in the
// container's mount table); ok is false when that mount is not a hostPath volume, when
// no mount covers the path, or when containerPath is not absolute.
func (m *Manifest) HostPath(containerPath string) (string, bool) {
	c := m.ContainerSpec()
	if c == nil || !path.IsAbs(containerPath) {
		return "", false
	}
	p := path.Clean(containerPath)
	var best *corev1.VolumeMount
	bestRest := ""
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		mp := path.Clean(vm.MountPath)
		rest, ok := under(p, mp)
		if ok && (best == nil || len(mp) > len(path.Clean(best.MountPath))) {
			best, bestRest = vm, rest
		}
	}
	if best == nil {
		return "", false
	}
	for _, v := range m.Pod.Spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		if v.HostPath == nil {
			return "", false
		}
		host := path.Join(v.HostPath.Path, best.SubPath, bestRest)
		return Layout{Root: m.Root}.Host(host), true
	}
	return "", false
}

// FlagPath returns the flag's value and the host path of the file it names (see
// HostPath). ok is false when the flag is missing or empty; mapped is false when no
// hostPath volume covers the value.
func (m *Manifest) FlagPath(name string) (value, host string, ok, mapped bool) {
	value, ok = m.Flag(name)
	if !ok || value == "" {
		return value, "", false, false
	}
	host, mapped = m.HostPath(value)
	return value, host, true, mapped
}

// under reports whether p is mount or inside it, and the rest of p below mount.
func under(p, mount string) (string, bool) {
	if mount == "/" {
		return strings.TrimPrefix(p, "/"), true
	}
	if p == mount {
		return "", true
	}
	if strings.HasPrefix(p, mount+"/") {
		return p[len(mount)+1:], true
	}
	return "", false
}

// checkVolumes finds what the API server's validation would refuse in the volumes:
// volumes without names, duplicate names, and mounts naming no volume.
func checkVolumes(p *corev1.Pod) error {
	names := map[string]bool{}
	for i, v := range p.Spec.Volumes {
		if v.Name == "" {
			what := "volume"
			if v.HostPath != nil {
				what = "hostPath volume " + v.HostPath.Path
			}
			return fmt.Errorf("volume #%d (%s) has no name", i+1, what)
		}
		if names[v.Name] {
			return fmt.Errorf("two volumes are named %q", v.Name)
		}
		names[v.Name] = true
	}
	for _, c := range p.Spec.Containers {
		for _, vm := range c.VolumeMounts {
			if !names[vm.Name] {
				return fmt.Errorf("container %q mounts volume %q at %s, but the Pod has no volume of that name", c.Name, vm.Name, vm.MountPath)
			}
		}
	}
	return nil
}

// imageTag returns the tag of an image reference: "registry.k8s.io/etcd:3.5.12-0" →
// "3.5.12-0"; "" when there is none.
func imageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	slash := strings.LastIndex(image, "/")
	colon := strings.LastIndex(image, ":")
	if colon <= slash {
		return ""
	}
	return image[colon+1:]
}

// lineOf returns the 1-based line of the first occurrence of s, 0 when absent.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// docEndLine returns the line of a YAML document-end marker ("...") followed by more
// content, 0 when there is none.
func docEndLine(data []byte) int {
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		if string(bytes.TrimRight(l, " \t\r")) != "..." {
			continue
		}
		for _, rest := range lines[i+1:] {
			if t := bytes.TrimSpace(rest); len(t) > 0 && t[0] != '#' {
				return i + 1
			}
		}
	}
	return 0
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// yamlErrLine returns the line number in a YAML error message, 0 when none.
func yamlErrLine(err error) int {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n := 0
	fmt.Sscan(m[1], &n)
	return n
}

// unknownField trims the decoder's wrapping from a strict-decoding error.
func unknownField(err error) string {
	s := err.Error()
	if i := strings.Index(s, "json: "); i >= 0 {
		return s[i+len("json: "):]
	}
	return s
}
