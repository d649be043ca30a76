package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/audit"
)

func TestMemberPhase(t *testing.T) {
	for _, tc := range []struct {
		m    Member
		want Phase
	}{
		{Member{ClientHTTP: true}, PhaseHTTP},
		{Member{ClientHTTP: true, ClientTLS: true}, PhaseClientTLS},
		{Member{ClientHTTP: true, ClientTLS: true, PeerTLS: true}, PhasePeerTLS},
		{Member{ClientTLS: true, PeerTLS: true, ClientCertRequired: true}, PhasePeerTLS}, // peers still accepted without a certificate
		{Member{ClientTLS: true, PeerTLS: true, ClientCertRequired: true, PeerCertRequired: true}, PhaseMutualTLS},
	} {
		if got := tc.m.Phase(); got != tc.want {
			t.Errorf("%+v: phase %s, want %s", tc.m, got, tc.want)
		}
	}
}

// TestHasCA: a cluster has its etcd CA once a member serves TLS; all on http, or all on
// mutual TLS (the rollout is over), there is nothing for a bundle to carry.
func TestHasCA(t *testing.T) {
	http := Member{Name: "a", ClientHTTP: true}
	client := Member{Name: "b", ClientHTTP: true, ClientTLS: true}
	mutual := Member{Name: "c", ClientTLS: true, PeerTLS: true, ClientCertRequired: true, PeerCertRequired: true}
	for _, tc := range []struct {
		members []Member
		want    string
	}{
		{[]Member{http, http}, ""},
		{[]Member{http, client, http}, "b"},
		{[]Member{http, mutual}, "c"},
		{[]Member{mutual, mutual, mutual}, ""},
	} {
		f := &Facts{Members: tc.members}
		got := ""
		if m := f.HasCA(); m != nil {
			got = m.Name
		}
		if got != tc.want {
			t.Errorf("%+v: HasCA %q, want %q", tc.members, got, tc.want)
		}
	}
}

func TestChecks(t *testing.T) {
	config := filepath.Join(t.TempDir(), "enc.yaml")
	if err := os.WriteFile(config, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := Member{Name: "b", ClientTLS: true, PeerTLS: true, ClientCertRequired: true, PeerCertRequired: true, Up: true}
	f := &Facts{Members: []Member{{Name: "a", ClientHTTP: true, Up: true}, done}}
	checks := Checks(f, config)
	want := map[string]string{
		IDPeers:       "fail: members on plain http peers (member list): a",
		IDClientCerts: "fail: members that serve http or accept a client without a certificate: a",
		IDConfig:      "pass: sha256 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
	}
	for _, c := range checks {
		if got := string(c.Status) + ": " + c.Detail; !strings.HasPrefix(got, want[c.ID]) {
			t.Errorf("%s: %q, want %q", c.ID, got, want[c.ID])
		}
	}
	f.Members[0] = done
	for _, c := range Checks(f, "") {
		if (c.ID == IDConfig) != (c.Status == audit.Warn) {
			t.Errorf("a done cluster without a config: %+v", c)
		}
	}
}
