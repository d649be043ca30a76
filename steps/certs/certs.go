// Package certs finds, checks and generates the TLS certificates of a stacked etcd the
// way kubeadm lays them out: an etcd CA, the server and peer pairs etcd serves with, and
// the client pairs kube-apiserver and health checks connect with.
//
// Nothing here writes a file: Generate and PlanManifests add changes to a plan.Plan.
package certs

import (
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// Role is what a certificate is for; it decides the key usages and SANs it needs.
type Role string

// The four roles.
const (
	RoleCA     Role = "ca"
	RoleServer Role = "server"
	RolePeer   Role = "peer"
	RoleClient Role = "client"
)

// Names of the five pairs, as kubeadm names their files.
const (
	PairCA          = "ca"
	PairServer      = "server"
	PairPeer        = "peer"
	PairHealthcheck = "healthcheck-client"
	PairAPIServer   = "apiserver-etcd-client"
)

// Source says where a path came from: a manifest flag ("etcd.yaml --cert-file") or one
// of the constants below.
type Source string

// Sources that are not a flag.
const (
	SourceKubeadm = Source("kubeadm layout")
	SourceChosen  = Source("chosen by you")
	SourceMissing = Source("missing")
	// SourceBeside is a CA key found next to the CA certificate (ca.crt → ca.key).
	SourceBeside = Source("next to the certificate")
	// SourceGenerated is a file a plan creates.
	SourceGenerated = Source("generated")
)

// FlagSource returns the Source of a path given by flag in the manifest file.
func FlagSource(file, flag string) Source { return Source(file + " --" + flag) }

// File is one certificate or key file.
type File struct {
	// Path is the host path under the root: what etcd-harden reads and the plan writes.
	Path string `json:"path"`
	// ContainerPath is the path the pod's container sees: what goes into a flag. For the
	// CA it is the path in the etcd container.
	ContainerPath string `json:"container_path"`
	Source        Source `json:"source"`
}

// Pair is a certificate and its key.
type Pair struct {
	Name string `json:"name"` // one of the Pair* names
	Role Role   `json:"role"`
	Cert File   `json:"cert"`
	Key  File   `json:"key"`
}

// Display returns a short name for messages: "server.crt".
func (f File) Display() string { return filepath.Base(f.Path) }

// kubeadm's files for each pair, relative to the etcd pki folder.
var layout = []struct {
	name, cert, key string
	role            Role
	certFlag        string // flag in etcd.yaml (or kube-apiserver.yaml for the apiserver)
	keyFlag         string
	more            []string // further flags naming the certificate, in order of trust
}{
	{PairCA, "ca.crt", "ca.key", RoleCA, "trusted-ca-file", "", []string{"peer-trusted-ca-file"}},
	{PairServer, "server.crt", "server.key", RoleServer, "cert-file", "key-file", nil},
	{PairPeer, "peer.crt", "peer.key", RolePeer, "peer-cert-file", "peer-key-file", nil},
	{PairHealthcheck, "healthcheck-client.crt", "healthcheck-client.key", RoleClient, "", "", nil},
	{PairAPIServer, "../apiserver-etcd-client.crt", "../apiserver-etcd-client.key", RoleClient, "etcd-certfile", "etcd-keyfile", nil},
}

// PairNames returns the names of the five pairs in Discover's order, the CA first.
func PairNames() []string {
	names := make([]string, len(layout))
	for i, l := range layout {
		names[i] = l.name
	}
	return names
}

// Discover returns the five pairs in the order ca, server, peer, healthcheck-client,
// apiserver-etcd-client. A path comes first from the flag that names it in etcd.yaml
// (kube-apiserver.yaml for the apiserver's client pair and, after etcd's own flags, for
// the CA), mapped to the host through the pod's hostPath volumes; then from kubeadm's
// layout under Layout.PKIDir when that file exists; else it is kubeadm's path with
// Source "missing". The CA key is looked for next to the CA certificate.
func Discover(s *discover.State) []Pair {
	pairs := make([]Pair, 0, len(layout))
	for _, l := range layout {
		m, file := s.Etcd, discover.EtcdFile
		if l.name == PairAPIServer {
			m, file = s.APIServer, discover.APIServerFile
		}
		p := Pair{Name: l.name, Role: l.role}
		p.Cert = fromFlags(s, m, file, append([]string{l.certFlag}, l.more...))
		if p.Cert.Path == "" && l.name == PairCA {
			p.Cert = fromFlags(s, s.APIServer, discover.APIServerFile, []string{"etcd-cafile"})
			if p.Cert.Path != "" {
				// What the apiserver names is mapped back to etcd's view for the flags.
				p.Cert.ContainerPath = ContainerPath(s, s.Etcd, p.Cert.Path)
			}
		}
		if p.Cert.Path == "" {
			p.Cert = fromLayout(s, m, l.cert)
		}
		p.Key = fromFlags(s, m, file, []string{l.keyFlag})
		switch {
		case p.Key.Path != "":
		case l.name == PairCA && p.Cert.Source != SourceKubeadm && p.Cert.Source != SourceMissing:
			p.Key = besideCert(s, m, p.Cert.Path)
		default:
			p.Key = fromLayout(s, m, l.key)
		}
		pairs = append(pairs, p)
	}
	return pairs
}

// Find returns the pair called name, or nil.
func Find(pairs []Pair, name string) *Pair {
	for i := range pairs {
		if pairs[i].Name == name {
			return &pairs[i]
		}
	}
	return nil
}

// Choose points the pair called name at files the user picked, given as node paths
// ("/etc/etcd/tls/server.pem"); an empty path keeps what was there. The files are
// mapped under the Layout's root and to the container of the manifest that uses them.
func Choose(s *discover.State, pairs []Pair, name, certPath, keyPath string) bool {
	p := Find(pairs, name)
	if p == nil {
		return false
	}
	m := manifestFor(s, name)
	if certPath != "" {
		host := s.Layout.Host(certPath)
		p.Cert = File{Path: host, ContainerPath: ContainerPath(s, m, host), Source: SourceChosen}
	}
	if keyPath != "" {
		host := s.Layout.Host(keyPath)
		p.Key = File{Path: host, ContainerPath: ContainerPath(s, m, host), Source: SourceChosen}
	}
	return true
}

// manifestFor returns the manifest whose container uses the pair's files.
func manifestFor(s *discover.State, name string) *discover.Manifest {
	if name == PairAPIServer {
		return s.APIServer
	}
	return s.Etcd
}

// fromFlags returns the file named by the first of flags set in m, or a zero File.
func fromFlags(s *discover.State, m *discover.Manifest, file string, flags []string) File {
	if m == nil {
		return File{}
	}
	for _, flag := range flags {
		if flag == "" {
			continue
		}
		if v, ok := m.Flag(flag); ok && v != "" {
			return File{Path: s.HostFile(m, v), ContainerPath: v, Source: FlagSource(file, flag)}
		}
	}
	return File{}
}

// fromLayout returns kubeadm's file rel (relative to the etcd pki folder).
func fromLayout(s *discover.State, m *discover.Manifest, rel string) File {
	host := filepath.Join(s.Layout.PKIDir, filepath.FromSlash(rel))
	src := SourceKubeadm
	if !exists(host) {
		src = SourceMissing
	}
	return File{Path: host, ContainerPath: ContainerPath(s, m, host), Source: src}
}

// besideCert finds the CA key next to its certificate: ca.crt → ca.key, ca.pem →
// ca-key.pem (cfssl's naming).
func besideCert(s *discover.State, m *discover.Manifest, certHost string) File {
	ext := filepath.Ext(certHost)
	base := strings.TrimSuffix(certHost, ext)
	candidates := []string{base + ".key", base + "-key.pem", base + "-key" + ext}
	for _, c := range candidates {
		if c != certHost && exists(c) {
			return File{Path: c, ContainerPath: ContainerPath(s, m, c), Source: SourceBeside}
		}
	}
	return File{Path: candidates[0], ContainerPath: ContainerPath(s, m, candidates[0]), Source: SourceMissing}
}

// ContainerPath returns the path under which m's container sees the host file
// hostPath: through the hostPath volume that covers it (longest host path wins), else
// the node path itself (a mount at the same path is what PlanManifests adds).
func ContainerPath(s *discover.State, m *discover.Manifest, hostPath string) string {
	node := nodePath(s.Layout, hostPath)
	if m == nil {
		return node
	}
	c := m.ContainerSpec()
	if c == nil {
		return node
	}
	best, bestLen := "", -1
	for _, vm := range c.VolumeMounts {
		for _, v := range m.Pod.Spec.Volumes {
			if v.Name != vm.Name || v.HostPath == nil {
				continue
			}
			src := path.Join(path.Clean("/"+v.HostPath.Path), vm.SubPath)
			rest, ok := below(node, src)
			if ok && len(src) > bestLen {
				best, bestLen = path.Join(vm.MountPath, rest), len(src)
			}
		}
	}
	if bestLen < 0 {
		return node
	}
	return best
}

// nodePath returns the host path without the root prefix, as an absolute slash path.
func nodePath(l discover.Layout, hostPath string) string {
	rel := l.Rel(hostPath)
	return path.Clean("/" + rel)
}

// below reports whether p is dir or inside it, and the rest of p below dir.
func below(p, dir string) (string, bool) {
	switch {
	case dir == "/":
		return strings.TrimPrefix(p, "/"), true
	case p == dir:
		return "", true
	case strings.HasPrefix(p, dir+"/"):
		return p[len(dir)+1:], true
	}
	return "", false
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
