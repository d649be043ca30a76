package certs

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// advertised puts a non-loopback address in --advertise-client-urls, as on a real node.
var advertised = []string{"--advertise-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://10.0.0.5:2379"}

func TestValidateGeneratedSetPasses(t *testing.T) {
	root, s := tree(t, advertised...)
	pairs := generated(t, root, s, GenOptions{})
	checks := Validate(s, pairs, testNow)
	if Failed(checks) || problems(checks) != "" {
		t.Fatalf("generated set has problems:\n%s", problems(checks))
	}
	for _, want := range []struct{ pair, name string }{
		{PairCA, CheckIsCA}, {PairCA, CheckCIS27}, {PairServer, CheckSANs}, {PairPeer, CheckSANs},
		{PairServer, CheckChain}, {PairAPIServer, CheckUsage}, {PairHealthcheck, CheckKeyMode}, {PairPeer, CheckDates},
	} {
		if find(checks, want.pair, want.name) == nil {
			t.Errorf("no %s check for %s", want.name, want.pair)
		}
	}
}

func TestValidateOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	root, s := tree(t, advertised...)
	pairs := generated(t, root, s, GenOptions{})
	key := Find(pairs, PairPeer).Key.Path
	if err := os.Chown(key, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	c := find(Validate(s, pairs, testNow), PairPeer, CheckOwner)
	if c == nil || c.Status != Warn || !strings.Contains(c.Message, key+" is owned by uid 1234, not root; chown root:root "+key) {
		t.Fatalf("owner check: %+v", c)
	}
}

func TestValidateFailures(t *testing.T) {
	type env struct {
		root   string
		s      *discover.State
		pairs  []Pair
		caCert *x509.Certificate
		caKey  crypto.Signer
	}
	server := func(e env) *Pair { return Find(e.pairs, PairServer) }
	// replaceServer writes a new server pair made from sp and signed by the etcd CA.
	replaceServer := func(t *testing.T, e env, sp spec) {
		c, k := issue(t, sp, e.caCert, e.caKey)
		writeFile(t, server(e).Cert.Path, certPEM(c), 0o644)
		writeFile(t, server(e).Key.Path, keyPEM(t, k), 0o600)
	}
	good := spec{cn: "node1", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		dns: []string{"node1", "localhost"}, ips: []string{"10.0.0.5", "127.0.0.1", "::1"}}
	with := func(f func(*spec)) spec { sp := good; f(&sp); return sp }

	cases := []struct {
		name   string
		mutate func(t *testing.T, e env)
		pair   string
		check  string
		status Status
		want   []string // all in Message
	}{
		{"wrong CA", func(t *testing.T, e env) {
			otherCA, otherKey := issue(t, spec{cn: "other-ca", ca: true}, nil, nil)
			c, k := issue(t, good, otherCA, otherKey)
			writeFile(t, server(e).Cert.Path, certPEM(c), 0o644)
			writeFile(t, server(e).Key.Path, keyPEM(t, k), 0o600)
		}, PairServer, CheckChain, Fail, []string{"server.crt is not signed by the etcd CA", "ca.crt", `issued by "CN=other-ca"`, "regenerate it with that CA, or let the wizard generate one"}},
		{"missing SAN", func(t *testing.T, e env) {
			replaceServer(t, e, with(func(sp *spec) { sp.ips = []string{"127.0.0.1"} }))
		}, PairServer, CheckSANs, Fail, []string{"server.crt does not cover 10.0.0.5 from --advertise-client-urls; regenerate it with that SAN or let the wizard generate one"}},
		{"client-only cert on the server", func(t *testing.T, e env) {
			replaceServer(t, e, with(func(sp *spec) { sp.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }))
		}, PairServer, CheckUsage, Fail, []string{"server.crt lacks the serverAuth extended key usage a server certificate needs (it has clientAuth)", "regenerate it with serverAuth"}},
		{"server without clientAuth", func(t *testing.T, e env) {
			replaceServer(t, e, with(func(sp *spec) { sp.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }))
		}, PairServer, CheckUsage, Warn, []string{"server.crt has serverAuth but not clientAuth", "gRPC gateway"}},
		{"peer with serverAuth only", func(t *testing.T, e env) {
			c, k := issue(t, with(func(sp *spec) { sp.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} }), e.caCert, e.caKey)
			p := Find(e.pairs, PairPeer)
			writeFile(t, p.Cert.Path, certPEM(c), 0o644)
			writeFile(t, p.Key.Path, keyPEM(t, k), 0o600)
		}, PairPeer, CheckUsage, Fail, []string{"peer.crt lacks the clientAuth extended key usage a peer certificate needs", "regenerate it with serverAuth and clientAuth"}},
		{"expired", func(t *testing.T, e env) {
			replaceServer(t, e, with(func(sp *spec) {
				sp.notBefore, sp.notAfter = testNow.Add(-400*24*time.Hour), testNow.Add(-3*24*time.Hour)
			}))
		}, PairServer, CheckDates, Fail, []string{"server.crt expired on 2026-02-26 (3 days ago)", "renew it: let the wizard generate one"}},
		{"not yet valid", func(t *testing.T, e env) {
			replaceServer(t, e, with(func(sp *spec) { sp.notBefore = testNow.Add(48 * time.Hour) }))
		}, PairServer, CheckDates, Fail, []string{"server.crt is not valid until 2026-03-03T12:00:00Z", "clock"}},
		{"expiring in 10 days", func(t *testing.T, e env) {
			replaceServer(t, e, with(func(sp *spec) { sp.notAfter = testNow.Add(10 * 24 * time.Hour) }))
		}, PairServer, CheckDates, Warn, []string{"server.crt expires on 2026-03-11, in 10 days", "renew it soon"}},
		{"key mismatch", func(t *testing.T, e env) {
			_, k := issue(t, good, e.caCert, e.caKey)
			writeFile(t, server(e).Key.Path, keyPEM(t, k), 0o600)
		}, PairServer, CheckKeyMatch, Fail, []string{"server.key is not the key of", "server.crt", "choose the key made with this certificate, or let the wizard generate a new pair"}},
		{"folder instead of a file", func(t *testing.T, e env) {
			// A folder where the file should be: named as such, not blamed on permissions.
			if err := os.Remove(server(e).Cert.Path); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(server(e).Cert.Path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, PairServer, CheckFile, Fail, []string{"server.crt (the etcd server certificate) is a folder, not a file", "move ", "out of the way"}},
		{"missing file named by a flag", func(t *testing.T, e env) {
			edit(t, e.s.Etcd.Path, "- --name=node1", "- --name=node1\n    - --cert-file=/etc/kubernetes/pki/etcd/nope.crt")
		}, PairServer, CheckFile, Fail, []string{"etcd.yaml --cert-file points to", "nope.crt, which does not exist; choose another file or let the wizard generate one"}},
		{"garbage PEM", func(t *testing.T, e env) {
			writeFile(t, server(e).Cert.Path, []byte("hello, I am not a certificate\n"), 0o644)
		}, PairServer, CheckPEM, Fail, []string{"server.crt is not a PEM certificate", "no CERTIFICATE block", "replace it with the PEM certificate, or let the wizard generate one"}},
		{"garbage key", func(t *testing.T, e env) {
			writeFile(t, server(e).Key.Path, []byte("-----BEGIN "+"PRIVATE "+"KEY-----\nAAAA\n-----END "+"PRIVATE "+"KEY-----\n"), 0o600)
		}, PairServer, CheckKey, Fail, []string{"server.key is not a usable private key", "unencrypted PEM key of server.crt"}},
		{"a CA that is not a CA", func(t *testing.T, e env) {
			c, k := issue(t, spec{cn: "etcd-ca", notCA: true}, nil, nil)
			ca := Find(e.pairs, PairCA)
			writeFile(t, ca.Cert.Path, certPEM(c), 0o644)
			writeFile(t, ca.Key.Path, keyPEM(t, k), 0o600)
		}, PairCA, CheckIsCA, Fail, []string{"ca.crt is not a CA certificate (CA:FALSE, no keyCertSign key usage)", "let the wizard make a new etcd CA"}},
		{"key mode 0644", func(t *testing.T, e env) {
			if err := os.Chmod(server(e).Key.Path, 0o644); err != nil {
				t.Fatal(err)
			}
		}, PairServer, CheckKeyMode, Warn, []string{"server.key is readable or writable by group or others (mode 0644)", "chmod 600 "}},
		{"etcd CA is the Kubernetes CA", func(t *testing.T, e env) {
			data, err := os.ReadFile(Find(e.pairs, PairCA).Cert.Path)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(e.root, "etc", "kubernetes", "pki", "ca.crt"), data, 0o644)
		}, PairCA, CheckCIS27, Warn, []string{"the etcd CA", "is the Kubernetes CA", "CIS 2.7", "use a dedicated etcd CA"}},
		{"CA flags name different files", func(t *testing.T, e env) {
			other, _ := issue(t, spec{cn: "other-ca", ca: true}, nil, nil)
			writeFile(t, filepath.Join(e.root, "etc/kubernetes/pki/etcd/other-ca.crt"), certPEM(other), 0o644)
			edit(t, e.s.Etcd.Path, "- --name=node1", "- --name=node1\n    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/other-ca.crt")
		}, PairCA, CheckCAFlags, Warn, []string{"the etcd CA is", "ca.crt but etcd.yaml --peer-trusted-ca-file names", "other-ca.crt", "let the wizard point every CA flag at ca.crt"}},
		{"CA key missing", func(t *testing.T, e env) {
			if err := os.Remove(Find(e.pairs, PairCA).Key.Path); err != nil {
				t.Fatal(err)
			}
		}, PairCA, CheckFile, Warn, []string{"the etcd CA key", "ca.key does not exist", "let the wizard generate a new etcd CA"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, s := tree(t, advertised...)
			pairs := generated(t, root, s, GenOptions{})
			caCert, caKey := loadCA(t, pairs)
			e := env{root: root, s: s, pairs: pairs, caCert: caCert, caKey: caKey}
			tc.mutate(t, e)
			e.s = load(t, root)
			checks := Validate(e.s, Discover(e.s), testNow)
			c := find(checks, tc.pair, tc.check)
			if c == nil {
				t.Fatalf("no %s/%s check; problems:\n%s", tc.pair, tc.check, problems(checks))
			}
			t.Log(c.Message)
			if c.Status != tc.status {
				t.Errorf("status %s, want %s: %s", c.Status, tc.status, c.Message)
			}
			for _, w := range tc.want {
				if !strings.Contains(c.Message, w) {
					t.Errorf("message %q\ndoes not contain %q", c.Message, w)
				}
			}
			if c.Fix == "" || !strings.HasSuffix(c.Message, c.Fix) {
				t.Errorf("message %q does not end with its fix %q", c.Message, c.Fix)
			}
			if !strings.Contains(c.Message, filepath.Base(c.Path)) {
				t.Errorf("message %q does not name the file %s", c.Message, c.Path)
			}
			if got := Failed(checks); got != (tc.status == Fail) {
				t.Errorf("Failed = %v with a %s check", got, tc.status)
			}
		})
	}
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", path, old)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDiscoverSources(t *testing.T) {
	root, s := tree(t, "- --name=node1", "- --name=node1\n    - --cert-file=/etc/etcd/tls/server.pem\n    - --key-file=/etc/etcd/tls/server-key.pem\n    - --trusted-ca-file=/etc/etcd/tls/ca.pem")
	// /etc/etcd/tls is mounted from the host's /srv/tls: paths map through the volume.
	edit(t, s.Etcd.Path, "    volumeMounts:\n", "    volumeMounts:\n    - mountPath: /etc/etcd/tls\n      name: tls\n")
	edit(t, s.Etcd.Path, "  volumes:\n", "  volumes:\n  - hostPath:\n      path: /srv/tls\n    name: tls\n")
	writeFile(t, filepath.Join(root, "srv", "tls", "ca-key.pem"), []byte("x"), 0o600)
	writeFile(t, filepath.Join(root, "etc", "kubernetes", "pki", "etcd", "peer.crt"), []byte("x"), 0o644)
	s = load(t, root)
	pairs := Discover(s)
	want := map[string][2]File{
		PairCA: {{filepath.Join(root, "srv/tls/ca.pem"), "/etc/etcd/tls/ca.pem", "etcd.yaml --trusted-ca-file"},
			{filepath.Join(root, "srv/tls/ca-key.pem"), "/etc/etcd/tls/ca-key.pem", SourceBeside}},
		PairServer: {{filepath.Join(root, "srv/tls/server.pem"), "/etc/etcd/tls/server.pem", "etcd.yaml --cert-file"},
			{filepath.Join(root, "srv/tls/server-key.pem"), "/etc/etcd/tls/server-key.pem", "etcd.yaml --key-file"}},
		PairPeer: {{filepath.Join(root, "etc/kubernetes/pki/etcd/peer.crt"), "/etc/kubernetes/pki/etcd/peer.crt", SourceKubeadm},
			{filepath.Join(root, "etc/kubernetes/pki/etcd/peer.key"), "/etc/kubernetes/pki/etcd/peer.key", SourceMissing}},
		PairHealthcheck: {{filepath.Join(root, "etc/kubernetes/pki/etcd/healthcheck-client.crt"), "/etc/kubernetes/pki/etcd/healthcheck-client.crt", SourceMissing},
			{filepath.Join(root, "etc/kubernetes/pki/etcd/healthcheck-client.key"), "/etc/kubernetes/pki/etcd/healthcheck-client.key", SourceMissing}},
		// The apiserver sees /etc/kubernetes/pki through its k8s-certs volume.
		PairAPIServer: {{filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.crt"), "/etc/kubernetes/pki/apiserver-etcd-client.crt", SourceMissing},
			{filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.key"), "/etc/kubernetes/pki/apiserver-etcd-client.key", SourceMissing}},
	}
	if len(pairs) != 5 {
		t.Fatalf("%d pairs, want 5", len(pairs))
	}
	for _, p := range pairs {
		w := want[p.Name]
		if p.Cert != w[0] || p.Key != w[1] {
			t.Errorf("%s:\n got %+v %+v\nwant %+v %+v", p.Name, p.Cert, p.Key, w[0], w[1])
		}
	}
	if !Choose(s, pairs, PairPeer, "/etc/etcd/tls/peer.pem", "") || Find(pairs, PairPeer).Cert.Source != SourceChosen ||
		Find(pairs, PairPeer).Cert.ContainerPath != "/etc/etcd/tls/peer.pem" {
		t.Errorf("Choose: %+v", Find(pairs, PairPeer).Cert)
	}
}

func TestTable(t *testing.T) {
	root, s := tree(t, advertised...)
	pairs := generated(t, root, s, GenOptions{})
	if err := os.Chmod(Find(pairs, PairPeer).Key.Path, 0o640); err != nil {
		t.Fatal(err)
	}
	rows := Table(pairs, Validate(s, pairs, testNow), testNow)
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	srv := rows[1]
	if srv.Name != PairServer || srv.Subject != "CN=node1" || srv.DaysLeft != 365 || srv.Status != Pass || len(srv.Problems) != 0 {
		t.Errorf("server row: %+v", srv)
	}
	if rows[0].DaysLeft != 3650 || rows[0].Subject != "CN=etcd-ca" {
		t.Errorf("ca row: %+v", rows[0])
	}
	if peer := rows[2]; peer.Status != Warn || len(peer.Problems) != 1 || !strings.Contains(peer.Problems[0], "mode 0640") {
		t.Errorf("peer row: %+v", peer)
	}
	data, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"days_left":365`, `"subject":"CN=kube-apiserver-etcd-client"`, `"expires":"2027-03-01T12:00:00Z"`, `"status":"warn"`} {
		if !strings.Contains(string(data), k) {
			t.Errorf("JSON lacks %s: %s", k, data)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	root, s := tree(b, advertised...)
	pairs := generated(b, root, s, GenOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if checks := Validate(s, pairs, testNow); Failed(checks) {
			b.Fatal(problems(checks))
		}
	}
}
