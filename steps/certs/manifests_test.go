package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// parsed returns the manifest as the plan leaves it.
func parsed(t *testing.T, p *plan.Plan, m *discover.Manifest, binary string) *discover.Manifest {
	t.Helper()
	data, err := p.Current(m.RelPath)
	if err != nil {
		t.Fatal(err)
	}
	out, err := discover.ParseManifest(m.Root, m.Path, data, binary)
	if err != nil {
		t.Fatalf("%s no longer parses: %v\n%s", m.Path, err, data)
	}
	return out
}

func wantFlags(t *testing.T, m *discover.Manifest, want map[string]string) {
	t.Helper()
	for f, v := range want {
		if n := m.FlagCount(f); n != 1 {
			t.Errorf("%s: --%s given %d times", filepath.Base(m.Path), f, n)
		}
		if got, _ := m.Flag(f); got != v {
			t.Errorf("%s: --%s=%q, want %q", filepath.Base(m.Path), f, got, v)
		}
	}
}

func TestPlanManifests(t *testing.T) {
	cases := []struct {
		name  string
		edits []string
		extra map[string]string // more etcd flags expected
	}{
		{"kubeadm unhardened", nil, nil},
		{"auto-tls on", []string{"- --name=node1", "- --name=node1\n    - --auto-tls=true\n    - --peer-auto-tls"},
			map[string]string{"auto-tls": "false", "peer-auto-tls": "false"}},
		{"certs folder not mounted", []string{"    - mountPath: /etc/kubernetes/pki/etcd\n      name: etcd-certs\n", "",
			"  - hostPath:\n      path: /etc/kubernetes/pki/etcd\n      type: DirectoryOrCreate\n    name: etcd-certs\n", ""}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, s := tree(t, tc.edits...)
			p := plan.New(root)
			g, err := Generate(p, s, Discover(s), GenOptions{Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			if err := PlanManifests(p, s, g.Pairs); err != nil {
				t.Fatal(err)
			}
			etcd := parsed(t, p, s.Etcd, discover.EtcdBinary)
			want := map[string]string{
				"cert-file":                   "/etc/kubernetes/pki/etcd/server.crt",
				"key-file":                    "/etc/kubernetes/pki/etcd/server.key",
				"client-cert-auth":            "true",
				"trusted-ca-file":             "/etc/kubernetes/pki/etcd/ca.crt",
				"peer-cert-file":              "/etc/kubernetes/pki/etcd/peer.crt",
				"peer-key-file":               "/etc/kubernetes/pki/etcd/peer.key",
				"peer-client-cert-auth":       "true",
				"peer-trusted-ca-file":        "/etc/kubernetes/pki/etcd/ca.crt",
				"listen-client-urls":          "https://127.0.0.1:2379",
				"advertise-client-urls":       "https://127.0.0.1:2379",
				"listen-peer-urls":            "https://127.0.0.1:2380",
				"initial-advertise-peer-urls": "https://127.0.0.1:2380",
				"initial-cluster":             "node1=https://127.0.0.1:2380",
				"listen-metrics-urls":         "http://127.0.0.1:2381", // the probes read it over http
			}
			for k, v := range tc.extra {
				want[k] = v
			}
			wantFlags(t, etcd, want)
			if h, ok := etcd.HostPath("/etc/kubernetes/pki/etcd/server.crt"); !ok || h != filepath.Join(root, "etc/kubernetes/pki/etcd/server.crt") {
				t.Errorf("etcd does not see the certificates folder: %q %v", h, ok)
			}
			api := parsed(t, p, s.APIServer, discover.APIServerBinary)
			wantFlags(t, api, map[string]string{
				"etcd-cafile":   "/etc/kubernetes/pki/etcd/ca.crt",
				"etcd-certfile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
				"etcd-keyfile":  "/etc/kubernetes/pki/apiserver-etcd-client.key",
				"etcd-servers":  "https://127.0.0.1:2379",
			})
			if c := p.Find(s.APIServer.RelPath); c == nil || !strings.Contains(string(c.New), "- --etcd-servers=https://127.0.0.1:2379") {
				t.Error("kube-apiserver.yaml: --etcd-servers not edited in place")
			}

			// Planning again on the planned result changes nothing.
			before := map[string]string{}
			for _, c := range p.Changes {
				before[c.Path] = string(c.New)
			}
			if err := PlanManifests(p, s, g.Pairs); err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Changes {
				if string(c.New) != before[c.Path] {
					t.Errorf("second PlanManifests changed %s", c.Path)
				}
			}

			// Apply, discover again: the flags are the sources now, and a new plan is empty.
			if _, err := p.Apply(plan.ApplyOptions{BackupRoot: filepath.Join(root, "backups")}); err != nil {
				t.Fatal(err)
			}
			s2 := load(t, root)
			pairs := Discover(s2)
			if src := Find(pairs, PairServer).Cert.Source; src != "etcd.yaml --cert-file" {
				t.Errorf("server source after apply: %s", src)
			}
			if src := Find(pairs, PairAPIServer).Key.Source; src != "kube-apiserver.yaml --etcd-keyfile" {
				t.Errorf("apiserver key source after apply: %s", src)
			}
			q := plan.New(root)
			g2, err := Generate(q, s2, pairs, GenOptions{Now: testNow})
			if err != nil || len(g2.Issued) != 0 {
				t.Errorf("Generate after apply: %v %v", g2, err)
			}
			if err := PlanManifests(q, s2, pairs); err != nil {
				t.Fatal(err)
			}
			if !q.Empty() {
				for _, c := range q.Changes {
					t.Errorf("not idempotent: %s changes again:\n%s", c.Path, c.New)
				}
			}
		})
	}
}

// TestPlanManifestsCorpus plans the edits on real kubeadm manifests: the flags they
// already have are edited in place, never added twice.
func TestPlanManifestsCorpus(t *testing.T) {
	corpus := filepath.Join("..", "..", "..", "shared", "corpus", "etcd")
	files, _ := filepath.Glob(filepath.Join(corpus, "*kubeadm*.yaml"))
	if len(files) == 0 {
		t.Skip("corpus not found")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			root := t.TempDir()
			writeFile(t, filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml"), data, 0o600)
			s, err := discover.Load(discover.Layout{Root: root})
			if err != nil {
				t.Skipf("discover refuses it: %v", err)
			}
			p := plan.New(root)
			g, err := Generate(p, s, Discover(s), GenOptions{Now: testNow, NodeName: "n"})
			if err != nil {
				t.Fatal(err)
			}
			if err := PlanManifests(p, s, g.Pairs); err != nil {
				t.Fatal(err)
			}
			m := parsed(t, p, s.Etcd, discover.EtcdBinary)
			for _, flag := range []string{"cert-file", "key-file", "trusted-ca-file", "peer-cert-file", "peer-key-file", "peer-trusted-ca-file", "client-cert-auth", "peer-client-cert-auth"} {
				if n := m.FlagCount(flag); n != 1 {
					t.Errorf("--%s given %d times", flag, n)
				}
			}
			for _, flag := range etcdURLFlags {
				if v, ok := m.Flag(flag); ok && strings.Contains(v, "http://") {
					t.Errorf("--%s=%s still http", flag, v)
				}
			}
			for _, flag := range []string{"cert-file", "peer-cert-file", "trusted-ca-file"} {
				v, _ := m.Flag(flag)
				if h, ok := m.HostPath(v); !ok || !strings.HasPrefix(h, root) {
					t.Errorf("--%s=%s is not mounted: %q", flag, v, h)
				}
			}
		})
	}
}

// TestPlanManifestsDuplicateFlag: a URL flag given twice in etcd.yaml (etcd uses the
// last) is made https in both places, a duplicate TLS flag keeps the place that takes
// effect, and the plan's reasons (REVIEW.md's "Why") name both.
func TestPlanManifestsDuplicateFlag(t *testing.T) {
	root, s := tree(t,
		"    - --listen-client-urls=http://127.0.0.1:2379\n",
		"    - --listen-client-urls=http://127.0.0.1:2379\n    - --client-cert-auth=false\n    - --listen-client-urls=http://127.0.0.1:2379,http://10.0.0.9:2379\n    - --client-cert-auth\n")
	p := plan.New(root)
	g, err := Generate(p, s, Discover(s), GenOptions{Now: testNow, NodeName: "node1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := PlanManifests(p, s, g.Pairs); err != nil {
		t.Fatal(err)
	}
	m := parsed(t, p, s.Etcd, discover.EtcdBinary)
	if v, _ := m.Flag("listen-client-urls"); v != "https://127.0.0.1:2379,https://10.0.0.9:2379" {
		t.Errorf("--listen-client-urls in effect = %q; want the last one, made https", v)
	}
	for _, f := range m.Flags {
		if f.Name == "listen-client-urls" && strings.Contains(f.Value, "http://") {
			t.Errorf("a --listen-client-urls is still http: %s", f.Value)
		}
	}
	if n := m.FlagCount("client-cert-auth"); n != 1 {
		t.Errorf("--client-cert-auth given %d times after the plan", n)
	}
	c := p.Find(s.Etcd.RelPath)
	why := strings.Join(c.Reasons, "\n")
	for _, w := range []string{
		"certs: etcd.yaml gives --listen-client-urls 2 times (--listen-client-urls=http://127.0.0.1:2379, then --listen-client-urls=http://127.0.0.1:2379,http://10.0.0.9:2379); replaced http:// with https:// in each",
		"certs: etcd.yaml gave --client-cert-auth 2 times (--client-cert-auth=false, then --client-cert-auth); kept the last, the one that takes effect, and removed the others",
	} {
		if !strings.Contains(why, w) {
			t.Errorf("reasons:\n%s\ndo not contain %q", why, w)
		}
	}
}
