package certs

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// planned parses the certificate the plan writes at the host path.
func planned(t *testing.T, p *plan.Plan, root, host string) *x509.Certificate {
	t.Helper()
	rel, _ := filepath.Rel(root, host)
	c := p.Find(rel)
	if c == nil {
		t.Fatalf("nothing planned for %s", rel)
	}
	certs, err := ParseCerts(c.New)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

func TestGenerateKubeadmWay(t *testing.T) {
	root, s := tree(t, advertised...)
	p := plan.New(root)
	pairs := Discover(s)
	g, err := Generate(p, s, pairs, GenOptions{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{PairCA, PairServer, PairPeer, PairHealthcheck, PairAPIServer}; !slices.Equal(g.Issued, want) || !g.NewCA {
		t.Fatalf("issued %v (new CA %v), want %v", g.Issued, g.NewCA, want)
	}
	if len(p.Changes) != 10 {
		t.Fatalf("%d changes, want 10", len(p.Changes))
	}
	for _, c := range p.Changes {
		isKey := strings.HasSuffix(c.Path, ".key")
		if c.Secret != isKey || (isKey && c.Mode != 0o600) || (!isKey && c.Mode != 0o644) || c.DirMode != 0o700 {
			t.Errorf("%s: secret %v mode %o dir mode %o", c.Path, c.Secret, c.Mode, c.DirMode)
		}
		if isKey {
			if b, _ := pem.Decode(c.New); b == nil || b.Type != "EC PRIVATE KEY" {
				t.Errorf("%s: not a SEC1 EC PRIVATE KEY", c.Path)
			}
		}
	}
	for _, pr := range g.Pairs {
		if pr.Cert.Source != SourceGenerated || pr.Key.Source != SourceGenerated {
			t.Errorf("%s sources %s/%s", pr.Name, pr.Cert.Source, pr.Key.Source)
		}
	}
	year, decade := testNow.Add(LeafValidity), testNow.Add(CAValidity)
	ca := planned(t, p, root, Find(pairs, PairCA).Cert.Path)
	if ca.Subject.CommonName != "etcd-ca" || !ca.IsCA || !ca.NotAfter.Equal(decade) || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: %s IsCA %v until %s", ca.Subject, ca.IsCA, ca.NotAfter)
	}
	for _, name := range []string{PairServer, PairPeer} {
		c := planned(t, p, root, Find(pairs, name).Cert.Path)
		var ips []string
		for _, ip := range c.IPAddresses {
			ips = append(ips, ip.String())
		}
		if c.Subject.CommonName != "node1" || !slices.Equal(c.DNSNames, []string{"node1", "localhost"}) ||
			!slices.Equal(ips, []string{"10.0.0.5", "127.0.0.1", "::1"}) ||
			!slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) ||
			!c.NotAfter.Equal(year) || !c.NotBefore.Equal(testNow.Add(-Backdate)) {
			t.Errorf("%s: %s DNS %v IPs %v EKU %v %s..%s", name, c.Subject, c.DNSNames, ips, c.ExtKeyUsage, c.NotBefore, c.NotAfter)
		}
	}
	for name, cn := range map[string]string{PairHealthcheck: HealthcheckCommonName, PairAPIServer: APIServerCommonName} {
		c := planned(t, p, root, Find(pairs, name).Cert.Path)
		if c.Subject.CommonName != cn || len(c.Subject.Organization) != 0 || !slices.Equal(c.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
			t.Errorf("%s: %s EKU %v", name, c.Subject, c.ExtKeyUsage)
		}
	}
	if checks := ValidatePlan(p, s, g.Pairs, testNow); Failed(checks) || problems(checks) != "" {
		t.Errorf("generated certificates do not pass validation:\n%s", problems(checks))
	}
	// Again on the same plan: everything passes, nothing more is planned.
	before := len(p.Changes)
	g2, err := Generate(p, s, g.Pairs, GenOptions{Now: testNow})
	if err != nil || len(g2.Issued) != 0 || len(p.Changes) != before {
		t.Errorf("second Generate: issued %v, %d changes (was %d), err %v", g2.Issued, len(p.Changes), before, err)
	}
}

func TestGenerateRSAAndOverrides(t *testing.T) {
	root, s := tree(t, advertised...)
	p := plan.New(root)
	pairs := Discover(s)
	_, err := Generate(p, s, pairs, GenOptions{Now: testNow, KeyType: RSA2048, NodeName: "cp-1", AdvertiseIP: "192.168.1.10", ExtraSANs: []string{"etcd.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	c := planned(t, p, root, Find(pairs, PairServer).Cert.Path)
	if c.Subject.CommonName != "cp-1" || !slices.Contains(c.DNSNames, "etcd.example.com") || !slices.ContainsFunc(c.IPAddresses, net.ParseIP("192.168.1.10").Equal) {
		t.Errorf("server: %s DNS %v IPs %v", c.Subject, c.DNSNames, c.IPAddresses)
	}
	if k, ok := c.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 || c.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		t.Errorf("server key: %T usage %v", c.PublicKey, c.KeyUsage)
	}
	rel, _ := filepath.Rel(root, Find(pairs, PairServer).Key.Path)
	if b, _ := pem.Decode(p.Find(rel).New); b == nil || b.Type != "RSA PRIVATE KEY" {
		t.Errorf("server key is not PKCS#1 RSA PRIVATE KEY")
	}

	for _, o := range []GenOptions{{AdvertiseIP: "not-an-ip"}, {KeyType: "dsa"}, {Renew: []string{"kubelet"}}} {
		q := plan.New(root)
		if _, err := Generate(q, s, pairs, o); err == nil || !q.Empty() {
			t.Errorf("%+v: err %v, plan empty %v", o, err, q.Empty())
		}
	}
}

func TestGenerateReusesCA(t *testing.T) {
	root, s := tree(t, advertised...)
	pairs := generated(t, root, s, GenOptions{})
	caCert, _ := loadCA(t, pairs)
	srv := Find(pairs, PairServer)
	for _, f := range []string{srv.Cert.Path, srv.Key.Path} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	p := plan.New(root)
	g, err := Generate(p, s, Discover(s), GenOptions{Now: testNow, Renew: []string{PairHealthcheck}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.Issued, []string{PairServer, PairHealthcheck}) || g.NewCA || len(p.Changes) != 4 {
		t.Fatalf("issued %v, new CA %v, %d changes", g.Issued, g.NewCA, len(p.Changes))
	}
	c := planned(t, p, root, srv.Cert.Path)
	if err := c.CheckSignatureFrom(caCert); err != nil {
		t.Errorf("new server certificate is not signed by the existing CA: %v", err)
	}
}

func TestGenerateNeverReplacesCASilently(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(t *testing.T, pairs []Pair)
		is     error
		want   []string
	}{
		{"CA key missing", func(t *testing.T, pairs []Pair) {
			mustRemove(t, Find(pairs, PairCA).Key.Path, Find(pairs, PairServer).Cert.Path)
		}, ErrCAKeyMissing, []string{"can't sign new etcd certificates: the etcd CA key", "ca.key does not exist", "give the CA key, or let etcd-harden make a new etcd CA"}},
		{"CA expired", func(t *testing.T, pairs []Pair) {
			c, k := issue(t, spec{cn: "etcd-ca", ca: true, notBefore: testNow.Add(-2 * CAValidity), notAfter: testNow.Add(-time.Hour)}, nil, nil)
			writeFile(t, Find(pairs, PairCA).Cert.Path, certPEM(c), 0o644)
			writeFile(t, Find(pairs, PairCA).Key.Path, keyPEM(t, k), 0o600)
		}, ErrCAUnusable, []string{"the etcd CA", "ca.crt cannot be used", "expired", "never replaces a CA silently", "make a new etcd CA"}},
		{"CA certificate missing, key there", func(t *testing.T, pairs []Pair) {
			mustRemove(t, Find(pairs, PairCA).Cert.Path)
		}, ErrCAUnusable, []string{"ca.crt is missing but its key", "put the certificate back, or let etcd-harden make a new etcd CA"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, s := tree(t, advertised...)
			pairs := generated(t, root, s, GenOptions{})
			tc.break_(t, pairs)
			p := plan.New(root)
			_, err := Generate(p, s, Discover(s), GenOptions{Now: testNow})
			if !errors.Is(err, tc.is) {
				t.Fatalf("err %v, want %v", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
			if !p.Empty() {
				t.Errorf("plan has %d changes after an error", len(p.Changes))
			}
			// With ReplaceCA: a new CA and every certificate re-issued.
			g, err := Generate(p, s, Discover(s), GenOptions{Now: testNow, ReplaceCA: true})
			if err != nil || !g.NewCA || len(g.Issued) != 5 {
				t.Fatalf("ReplaceCA: %v, %+v", err, g)
			}
			if checks := ValidatePlan(p, s, g.Pairs, testNow); Failed(checks) {
				t.Errorf("after ReplaceCA:\n%s", problems(checks))
			}
		})
	}
}

func mustRemove(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReplaceCAKeepsTheKubernetesCA(t *testing.T) {
	root, s := tree(t, "- --name=node1", "- --name=node1\n    - --trusted-ca-file=/etc/kubernetes/pki/ca.crt")
	k8sCA, k8sKey := issue(t, spec{cn: "kubernetes", ca: true}, nil, nil)
	k8sPath := filepath.Join(root, "etc", "kubernetes", "pki", "ca.crt")
	writeFile(t, k8sPath, certPEM(k8sCA), 0o644)
	writeFile(t, filepath.Join(root, "etc", "kubernetes", "pki", "ca.key"), keyPEM(t, k8sKey), 0o600)
	// The etcd manifest cannot see /etc/kubernetes/pki/ca.crt without a mount: add one.
	edit(t, s.Etcd.Path, "    - mountPath: /etc/kubernetes/pki/etcd\n", "    - mountPath: /etc/kubernetes/pki\n      name: k8s\n    - mountPath: /etc/kubernetes/pki/etcd\n")
	edit(t, s.Etcd.Path, "  volumes:\n", "  volumes:\n  - hostPath:\n      path: /etc/kubernetes/pki\n    name: k8s\n")
	s = load(t, root)
	pairs := Discover(s)
	checks := Validate(s, pairs, testNow)
	if c := find(checks, PairCA, CheckCIS27); c == nil || c.Status != Warn {
		t.Fatalf("no CIS 2.7 warning:\n%s", problems(checks))
	}
	p := plan.New(root)
	// Without ReplaceCA the cluster CA signs the etcd certificates (with the warning).
	g, err := Generate(p, s, pairs, GenOptions{Now: testNow})
	if err != nil || g.NewCA {
		t.Fatalf("without ReplaceCA: %v new CA %v", err, g.NewCA)
	}
	p = plan.New(root)
	g, err = Generate(p, s, pairs, GenOptions{Now: testNow, ReplaceCA: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Find("etc/kubernetes/pki/ca.crt") != nil || p.Find("etc/kubernetes/pki/ca.key") != nil {
		t.Fatal("the plan writes over the Kubernetes CA")
	}
	ca := Find(g.Pairs, PairCA)
	if ca.Cert.Path != filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt") || ca.Cert.ContainerPath != "/etc/kubernetes/pki/etcd/ca.crt" {
		t.Errorf("new CA at %+v", ca.Cert)
	}
	if len(g.Notes) == 0 || !strings.Contains(g.Notes[0], "CIS 2.7") {
		t.Errorf("notes: %v", g.Notes)
	}
	checks = ValidatePlan(p, s, g.Pairs, testNow)
	if c := find(checks, PairCA, CheckCIS27); c == nil || c.Status != Pass {
		t.Errorf("CIS 2.7 after ReplaceCA: %+v", c)
	}
}
