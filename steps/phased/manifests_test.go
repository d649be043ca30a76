package phased_test

import (
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/manifest"
	"github.com/etcd-harden/etcd-harden/steps/phased"
)

// TestBuildManifests: phase 1 serves clients on https and http on one port with the
// peers still on http; phase 2 moves the peers; phase 3 is the hardened file; no phase
// before 3 requires a certificate.
func TestBuildManifests(t *testing.T) {
	root := t.TempDir()
	if _, err := lab.Layout(root, lab.Ports{Client: 2379, Peer: 2380, Metrics: 2381}); err != nil {
		t.Fatal(err)
	}
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	r, err := harden.Build(st, harden.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := r.Plan.Find("etc/kubernetes/manifests/etcd.yaml")
	m, err := phased.BuildManifests(c.Old, c.New)
	if err != nil {
		t.Fatal(err)
	}
	flag := func(i int, f string) string {
		e, err := manifest.NewEditor("etcd.yaml", m.Phases[i])
		if err != nil {
			t.Fatal(err)
		}
		v, ok := e.Flag("", f)
		if !ok {
			return "(unset)"
		}
		return v
	}
	for _, tc := range []struct {
		phase      int
		flag, want string
	}{
		{1, "listen-client-urls", "https://127.0.0.1:2379,http://127.0.0.1:2379"},
		{1, "listen-peer-urls", "http://127.0.0.1:2380"},
		{1, "peer-cert-file", "/etc/kubernetes/pki/etcd/peer.crt"},
		{1, "client-cert-auth", "(unset)"},
		{2, "listen-peer-urls", "https://127.0.0.1:2380"},
		{2, "advertise-client-urls", "https://127.0.0.1:2379,http://127.0.0.1:2379"},
		{2, "peer-client-cert-auth", "(unset)"},
		{3, "listen-client-urls", "https://127.0.0.1:2379"},
		{3, "client-cert-auth", "true"},
		{3, "peer-client-cert-auth", "true"},
	} {
		if got := flag(tc.phase, tc.flag); got != tc.want {
			t.Errorf("phase %d --%s=%s, want %s", tc.phase, tc.flag, got, tc.want)
		}
	}
	for i := range 4 {
		if got := m.Of(m.Phases[i]); got != i {
			t.Errorf("Of(phase %d) = %d", i, got)
		}
	}
	if m.Of([]byte("something else")) != -1 || strings.Join(m.PeerURLs(2), ",") != "https://127.0.0.1:2380" || m.Name() != lab.NodeName {
		t.Errorf("Of, PeerURLs or Name: %v %v %q", m.Of(nil), m.PeerURLs(2), m.Name())
	}
}
