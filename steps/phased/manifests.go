// Package phased hardens one node of a multi-member etcd cluster in phases, one member
// restart at a time, as far as the cluster's observed state allows: phase 1 gives the
// member its certificates and an https client URL beside the http one (and kube-apiserver
// the TLS client pair and an encryption config that can read the new key but does not
// write with it yet); phase 2 moves its peer URL to https (MemberUpdate, then the restart)
// and makes the new key the one kube-apiserver writes with; phase 3 drops the http client
// URL and requires client and peer certificates. A phase starts only when every member
// is at least at the phase before and the whole cluster is healthy; each restart is
// followed by a health gate over the whole cluster, and a failed gate rolls the node
// back. The phase comes from etcd (steps/cluster), never from a file, so Apply can run
// again, in any order, on any node.
package phased

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/manifest"
)

// Manifests are the etcd.yaml of one node for each phase: Phases[0] is the file as
// planned from (plain http), Phases[3] the plan's hardened one.
type Manifests struct {
	Phases [4][]byte
}

// peerFlags are the etcd flags that carry peer URLs.
var peerFlags = []string{"listen-peer-urls", "initial-advertise-peer-urls", "initial-cluster"}

// BuildManifests derives the phase manifests from the node's etcd.yaml as it is (old)
// and as the plan hardens it (hardened):
//
//   - phase 2: hardened, except that clients are served over http too (the old
//     --listen-client-urls and --advertise-client-urls after the https ones, on the same
//     ports: etcd serves both on one port) and no client or peer certificate is required;
//   - phase 1: phase 2 with the old peer URLs (http), the peer certificates already set
//     so the member can dial https peers once they move;
//   - phase 3: hardened.
func BuildManifests(old, hardened []byte) (*Manifests, error) {
	name := "etcd.yaml"
	o, err := manifest.NewEditor(name, old)
	if err != nil {
		return nil, err
	}
	e, err := manifest.NewEditor(name, hardened)
	if err != nil {
		return nil, err
	}
	m := &Manifests{}
	m.Phases[0], m.Phases[3] = old, hardened
	for _, f := range []string{"listen-client-urls", "advertise-client-urls"} {
		was, _ := o.Flag("", f)
		now, _ := e.Flag("", f)
		if was == "" || was == now {
			continue
		}
		if err := e.SetFlag("", f, now+","+was); err != nil {
			return nil, err
		}
	}
	for _, f := range []string{"client-cert-auth", "peer-client-cert-auth"} {
		if err := e.RemoveFlag("", f); err != nil {
			return nil, err
		}
	}
	m.Phases[2] = e.Bytes()
	for _, f := range peerFlags {
		was, ok := o.Flag("", f)
		if !ok {
			continue
		}
		if err := e.SetFlag("", f, was); err != nil {
			return nil, err
		}
	}
	m.Phases[1] = e.Bytes()
	if strings.Contains(flagOf(m.Phases[1], "listen-peer-urls"), "https://") {
		return nil, fmt.Errorf("%s already lists https peer URLs before the plan; a cluster that is half hardened by hand is not one this plan can phase", name)
	}
	return m, nil
}

// Of returns the phase (0 to 3) whose manifest data is, or -1 when it is none of them.
func (m *Manifests) Of(data []byte) int {
	for i := len(m.Phases) - 1; i >= 0; i-- {
		if string(m.Phases[i]) == string(data) {
			return i
		}
	}
	return -1
}

// PeerURLs returns the member's advertised peer URLs in phase i.
func (m *Manifests) PeerURLs(i int) []string {
	return splitURLs(flagOf(m.Phases[i], "initial-advertise-peer-urls"))
}

// Name returns the member's --name.
func (m *Manifests) Name() string { return flagOf(m.Phases[3], "name") }

func flagOf(data []byte, flag string) string {
	e, err := manifest.NewEditor(filepath.Base("etcd.yaml"), data)
	if err != nil {
		return ""
	}
	v, _ := e.Flag("", flag)
	return v
}

func splitURLs(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
