package certs

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/manifest"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// URL flags of etcd that PlanManifests moves from http:// to https://. The metrics URLs
// stay as they are: kubeadm's liveness and startup probes read /livez and /readyz over
// plain http on --listen-metrics-urls (port 2381), so the probes need no change.
var etcdURLFlags = []string{
	"listen-client-urls", "advertise-client-urls",
	"listen-peer-urls", "initial-advertise-peer-urls", "initial-cluster",
}

// ReasonManifests is the plan reason of the manifest edits.
const ReasonManifests = "certs: etcd serves clients and peers over mutual TLS"

// kubeadmAdvertiseAnnotation is where kubeadm keeps etcd's advertised client URL.
const kubeadmAdvertiseAnnotation = "kubeadm.kubernetes.io/etcd.advertise-client-urls"

// PlanManifests plans the edits that make etcd and kube-apiserver use the pairs:
//
//   - etcd.yaml: --cert-file, --key-file, --client-cert-auth=true, --trusted-ca-file,
//     --peer-cert-file, --peer-key-file, --peer-client-cert-auth=true,
//     --peer-trusted-ca-file; --auto-tls=false and --peer-auto-tls=false where they
//     were on; http:// → https:// in the client and peer URLs and --initial-cluster
//     (not --listen-metrics-urls); a hostPath mount for every certificate folder not
//     mounted yet.
//   - kube-apiserver.yaml (when there is one): --etcd-cafile, --etcd-certfile,
//     --etcd-keyfile, http:// → https:// in --etcd-servers, and mounts as above.
//
// Flags get container paths; each is set once, in place when present. Planning again
// on the result changes nothing.
func PlanManifests(p *plan.Plan, s *discover.State, pairs []Pair) error {
	ca, server, peer, api := Find(pairs, PairCA), Find(pairs, PairServer), Find(pairs, PairPeer), Find(pairs, PairAPIServer)
	if ca == nil || server == nil || peer == nil {
		return fmt.Errorf("the ca, server and peer pairs are needed to plan etcd.yaml; pass the pairs Discover returns")
	}
	if s.Etcd == nil {
		return fmt.Errorf("no etcd manifest was discovered; run discover.Load first")
	}
	err := editManifest(p, s.Etcd, func(e *manifest.Editor) error {
		c := s.Etcd.Container
		flags := map[string]string{
			"cert-file":             server.Cert.ContainerPath,
			"key-file":              server.Key.ContainerPath,
			"client-cert-auth":      "true",
			"trusted-ca-file":       ca.Cert.ContainerPath,
			"peer-cert-file":        peer.Cert.ContainerPath,
			"peer-key-file":         peer.Key.ContainerPath,
			"peer-client-cert-auth": "true",
			"peer-trusted-ca-file":  ca.Cert.ContainerPath,
		}
		for _, f := range []string{"auto-tls", "peer-auto-tls"} {
			if v, ok := e.Flag(c, f); ok && v != "false" {
				flags[f] = "false"
			}
		}
		if err := e.SetFlags(c, flags); err != nil {
			return err
		}
		for _, f := range etcdURLFlags {
			if _, err := e.ReplaceInFlag(c, f, "http://", "https://"); err != nil {
				return err
			}
		}
		// kubeadm reads the advertised client URL back from this annotation on join and
		// upgrade; it must say https like the flag.
		if _, err := e.ReplaceInAnnotation(kubeadmAdvertiseAnnotation, "http://", "https://"); err != nil {
			return err
		}
		return mountFolders(e, s, c, []File{ca.Cert, server.Cert, server.Key, peer.Cert, peer.Key})
	})
	if err != nil {
		return err
	}
	if s.APIServer == nil || api == nil {
		return nil
	}
	return editManifest(p, s.APIServer, func(e *manifest.Editor) error {
		c := s.APIServer.Container
		caFile := File{Path: ca.Cert.Path, ContainerPath: ContainerPath(s, s.APIServer, ca.Cert.Path)}
		if err := e.SetFlags(c, map[string]string{
			"etcd-cafile":   caFile.ContainerPath,
			"etcd-certfile": api.Cert.ContainerPath,
			"etcd-keyfile":  api.Key.ContainerPath,
		}); err != nil {
			return err
		}
		if _, err := e.ReplaceInFlag(c, "etcd-servers", "http://", "https://"); err != nil {
			return err
		}
		return mountFolders(e, s, c, []File{caFile, api.Cert, api.Key})
	})
}

// editManifest plans the edits fn makes to m with ReasonManifests, and adds what the
// editor noted (a duplicate flag removed or changed in each place) as more reasons,
// so that REVIEW.md names them.
func editManifest(p *plan.Plan, m *discover.Manifest, fn func(e *manifest.Editor) error) error {
	var notes []string
	err := p.Edit(m.RelPath, ReasonManifests, func(old []byte) ([]byte, error) {
		e, err := manifest.NewEditor(filepath.Base(m.Path), old)
		if err != nil {
			return nil, err
		}
		if err := fn(e); err != nil {
			return nil, err
		}
		notes = e.Notes()
		return e.Bytes(), nil
	})
	if c := p.Find(m.RelPath); err == nil && c != nil {
		for _, n := range notes {
			if !slices.Contains(c.Reasons, "certs: "+n) {
				c.Reasons = append(c.Reasons, "certs: "+n)
			}
		}
	}
	return err
}

// mountFolders makes sure the container sees each file's folder: a read-only hostPath
// mount of the host folder at the container folder, unless one already covers it.
func mountFolders(e *manifest.Editor, s *discover.State, container string, files []File) error {
	seen := map[string]bool{}
	for _, f := range files {
		dir := path.Dir(f.ContainerPath)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		m := manifest.HostPathMount{
			Name:      "etcd-certs",
			HostPath:  path.Dir(nodePath(s.Layout, f.Path)),
			MountPath: dir,
			ReadOnly:  true,
			Type:      "DirectoryOrCreate",
		}
		if err := e.EnsureHostPathMount(container, m); err != nil {
			return fmt.Errorf("mount %s for %s: %w", m.HostPath, f.ContainerPath, err)
		}
	}
	return nil
}
