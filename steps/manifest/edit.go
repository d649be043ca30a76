// Package manifest makes minimal, comment-preserving edits to static pod manifests:
// flags set once in the list they already live in, hostPath volumes and mounts added
// with the file's own indentation. Every other byte of the file stays as it was.
package manifest

// Editor edits one manifest. Each method re-reads the node tree of the current bytes
// and changes only the lines it has to.
type Editor struct {
	name string
	data []byte
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
func NewEditor(name string, data []byte) (*Editor, error) {
	return &Editor{name: name, data: data}, nil
}

// Bytes returns the edited manifest.
func (e *Editor) Bytes() []byte { return e.data }

// SetFlag sets --flag=value in the container's command or args (where the container's
// flags already live), editing the existing item in place when the flag is present.
// container "" means the first container.
func (e *Editor) SetFlag(container, flag, value string) error { panic("todo") }

// RemoveFlag removes every occurrence of --flag from the container's command and args.
func (e *Editor) RemoveFlag(container, flag string) error { panic("todo") }

// EnsureHostPathMount adds the volume and the container's mount unless a mount already
// covers m.MountPath with the same host path.
func (e *Editor) EnsureHostPathMount(container string, m HostPathMount) error { panic("todo") }
