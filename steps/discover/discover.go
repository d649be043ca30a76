// Package discover reads the etcd and kube-apiserver static pod manifests under a root
// and returns what later steps need: the flags, their files mapped to the host, and the
// etcd version.
package discover

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// Layout says where things are on the node. Paths are absolute host paths under Root.
type Layout struct {
	Root         string // file-system prefix, "/" on a node
	ManifestsDir string // default <root>/etc/kubernetes/manifests
	PKIDir       string // default <root>/etc/kubernetes/pki/etcd
}

// Flag is one command-line flag of a container, in the order it appears.
type Flag struct {
	Name     string // without dashes: "cert-file"
	Value    string // "" for a bare boolean
	HasValue bool   // false for a bare "--client-cert-auth"
	List     string // "command" or "args": where it lives
	Index    int    // index of the item in that list
	// Separate is true for the "--name value" form: the value is the item at Index+1.
	Separate bool
	// Dashes is 1 for "-name", 2 for "--name".
	Dashes int
}

// Manifest is one parsed static pod manifest.
type Manifest struct {
	Path      string // absolute host path (under Root)
	RelPath   string // slash path relative to Root, for the Plan
	Root      string // the Layout.Root it was read under; HostPath joins under it
	Raw       []byte
	Pod       corev1.Pod
	Container string // name of the container that runs the binary
	Binary    string // the binary it runs: EtcdBinary or APIServerBinary
	// ContainerIndex is the index of that container in Pod.Spec.Containers.
	ContainerIndex int
	Image          string
	// ImageTag is the tag of Image without a digest, "" when the image has none.
	ImageTag string
	Flags    []Flag
	// Warnings are problems the kubelet tolerates but a person should see, such as
	// unknown fields (a misspelt "readOlny").
	Warnings []string
}

// State is what discover found on the node.
type State struct {
	Layout    Layout
	Etcd      *Manifest
	APIServer *Manifest // nil when kube-apiserver.yaml does not exist
	// EtcdVersion comes from the etcd image tag, e.g. "3.5.12-0"; "" when unknown.
	EtcdVersion string
}

// File names of the static pod manifests, as kubeadm writes them.
const (
	EtcdFile      = "etcd.yaml"
	APIServerFile = "kube-apiserver.yaml"
)

// Binaries the manifests run.
const (
	EtcdBinary      = "etcd"
	APIServerBinary = "kube-apiserver"
)

// Defaults fills empty folders with kubeadm's layout under root ("/" when root is
// empty): <root>/etc/kubernetes/manifests and <root>/etc/kubernetes/pki/etcd. Relative
// folders are taken as given.
func Defaults(root, manifestsDir, pkiDir string) Layout {
	if root == "" {
		root = string(filepath.Separator)
	}
	root = filepath.Clean(root)
	if manifestsDir == "" {
		manifestsDir = filepath.Join(root, "etc", "kubernetes", "manifests")
	}
	if pkiDir == "" {
		pkiDir = filepath.Join(root, "etc", "kubernetes", "pki", "etcd")
	}
	return Layout{Root: root, ManifestsDir: filepath.Clean(manifestsDir), PKIDir: filepath.Clean(pkiDir)}
}

// Rel returns hostPath as a slash path relative to Root ("etc/kubernetes/manifests/etcd.yaml"),
// the form Plan changes use. A path outside Root comes back cleaned, in slash form, as is.
func (l Layout) Rel(hostPath string) string {
	root := l.Root
	if root == "" {
		root = string(filepath.Separator)
	}
	rel, err := filepath.Rel(root, hostPath)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return filepath.ToSlash(filepath.Clean(hostPath))
	}
	return filepath.ToSlash(rel)
}

// Host returns the host path of a node path (e.g. "/etc/kubernetes/pki/etcd/ca.crt")
// under Root.
func (l Layout) Host(nodePath string) string {
	root := l.Root
	if root == "" {
		root = string(filepath.Separator)
	}
	return filepath.Join(root, filepath.FromSlash(path.Clean("/"+nodePath)))
}

// Load reads etcd.yaml (required) and kube-apiserver.yaml (optional: State.APIServer is
// nil when the file does not exist, as on an external-etcd node) from l.ManifestsDir.
// Empty Layout fields get Defaults. Any other problem with either file is an error that
// names the file.
func Load(l Layout) (*State, error) {
	l = Defaults(l.Root, l.ManifestsDir, l.PKIDir)
	s := &State{Layout: l}

	etcdPath := filepath.Join(l.ManifestsDir, EtcdFile)
	etcd, err := ReadManifest(l.Root, etcdPath, EtcdBinary)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s not found in %s: is this a control-plane node with a kubeadm-style stacked etcd? Pass --root or --manifests-dir to point at the manifests: %w",
				EtcdFile, l.ManifestsDir, err)
		}
		return nil, err
	}
	s.Etcd = etcd
	s.EtcdVersion = strings.TrimPrefix(etcd.ImageTag, "v")

	apiPath := filepath.Join(l.ManifestsDir, APIServerFile)
	api, err := ReadManifest(l.Root, apiPath, APIServerBinary)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No kube-apiserver here: checks that need it report "not found".
	case err != nil:
		return nil, err
	default:
		s.APIServer = api
	}
	return s, nil
}

// ReadManifest reads the file at path (a host path under root) and parses it with
// ParseManifest. A missing file gives an error that wraps fs.ErrNotExist; a folder, or
// a path through a file, says so (not "check permissions").
func ReadManifest(root, path, binary string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, readError(path, binary, err)
	}
	return ParseManifest(root, path, data, binary)
}

// readError says why the manifest at path could not be read, and what to do.
func readError(path, binary string, err error) error {
	pe := &ParseError{Path: path, Kind: ErrUnreadable, Err: err}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		pe.Kind, pe.Msg = ErrMissing, "file does not exist"
	case errors.Is(err, fs.ErrPermission):
		pe.Msg = "cannot read the file; run as root or check its permissions"
	case isFolder(path):
		pe.Msg, pe.Err = fmt.Sprintf("is a folder; expected the static pod manifest of %s, a file: point --manifests-dir at the folder that holds it", binary), nil
	case errors.Is(err, syscall.ENOTDIR):
		pe.Msg, pe.Err = fmt.Sprintf("%s is a file, not a folder; expected the folder that holds %s, e.g. /etc/kubernetes/manifests: check --root and --manifests-dir", filepath.Dir(path), filepath.Base(path)), nil
	default:
		pe.Msg = "cannot read the file; check the path and the disk"
	}
	return pe
}

func isFolder(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// Folder says what a folder flag must point at, for CheckFolder's messages.
type Folder struct {
	Flag    string // "--manifests-dir"
	Holds   string // "the folder that holds etcd.yaml"
	Example string // "/etc/kubernetes/manifests"
	// MayBeMissing is true for a folder etcd-harden can create (the PKI folder).
	MayBeMissing bool
}

// The folders the global flags name.
var (
	RootFolder      = Folder{Flag: "--root", Holds: "the folder that holds the node's file system", Example: "/ on a node"}
	ManifestsFolder = Folder{Flag: "--manifests-dir", Holds: "the folder that holds " + EtcdFile, Example: "/etc/kubernetes/manifests"}
	PKIFolder       = Folder{Flag: "--pki-dir", Holds: "the folder that holds etcd's certificates", Example: "/etc/kubernetes/pki/etcd", MayBeMissing: true}
)

// ErrNotFolder is wrapped by CheckFolder's errors.
var ErrNotFolder = errors.New("not a folder")

// CheckFolder returns nil when path is a folder (or, for f.MayBeMissing, does not
// exist yet), else an error that says what path is and what f expects:
// "--manifests-dir /x/etcd.yaml is a file; expected the folder that holds etcd.yaml,
// e.g. /etc/kubernetes/manifests".
func CheckFolder(f Folder, path string) error {
	fi, err := os.Stat(path)
	var what string
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil && fi.Mode().IsRegular():
		what = "is a file"
	case err == nil:
		what = "is a " + fi.Mode().Type().String() + " file, not a folder"
	case errors.Is(err, fs.ErrNotExist) && f.MayBeMissing:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		what = "does not exist"
	case errors.Is(err, syscall.ENOTDIR):
		what = "is not a folder (a part of the path is a file)"
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s cannot be read (%v): run as root or check its permissions", f.Flag, path, err)
	default:
		return fmt.Errorf("%s %s: %w", f.Flag, path, err)
	}
	msg := fmt.Sprintf("%s %s %s; expected %s, e.g. %s", f.Flag, path, what, f.Holds, f.Example)
	if err == nil && fi.Mode().IsRegular() && f.Flag == ManifestsFolder.Flag {
		msg += fmt.Sprintf(" (its folder %s?)", filepath.Dir(path))
	}
	return &folderError{msg}
}

// folderError is a CheckFolder message that matches ErrNotFolder.
type folderError struct{ msg string }

func (e *folderError) Error() string        { return e.msg }
func (e *folderError) Is(target error) bool { return target == ErrNotFolder }

// HostFile maps a path inside m's container to the host like Manifest.HostPath; when no
// hostPath volume covers it, it falls back to the same path under the Layout's Root
// (what a process outside the pod would open).
func (s *State) HostFile(m *Manifest, containerPath string) string {
	if m != nil {
		if p, ok := m.HostPath(containerPath); ok {
			return p
		}
	}
	return s.Layout.Host(containerPath)
}
