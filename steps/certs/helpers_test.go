package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// testNow is the fixed "now" of the tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tree lays out a kubeadm-like root from the repo's unhardened manifests, with edit
// applied to each file's text (old → new pairs), and loads it.
func tree(t testing.TB, edits ...string) (string, *discover.State) {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{discover.EtcdFile, discover.APIServerFile} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", "unhardened", name))
		if err != nil {
			t.Fatal(err)
		}
		s := string(data)
		for i := 0; i+1 < len(edits); i += 2 {
			s = strings.ReplaceAll(s, edits[i], edits[i+1])
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root, load(t, root)
}

func load(t testing.TB, root string) *discover.State {
	t.Helper()
	s, err := discover.Load(discover.Layout{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// generated makes a full, valid set in the tree (Generate, then Apply) and returns the
// pairs as discovered afterwards.
func generated(t testing.TB, root string, s *discover.State, o GenOptions) []Pair {
	t.Helper()
	p := plan.New(root)
	if o.Now.IsZero() {
		o.Now = testNow
	}
	if _, err := Generate(p, s, Discover(s), o); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply(plan.ApplyOptions{BackupRoot: filepath.Join(root, "backups")}); err != nil {
		t.Fatal(err)
	}
	return Discover(s)
}

// spec describes a test certificate.
type spec struct {
	cn        string
	ca        bool
	notCA     bool // a "CA" without CA:TRUE and keyCertSign
	eku       []x509.ExtKeyUsage
	dns       []string
	ips       []string
	notBefore time.Time
	notAfter  time.Time
}

// issue creates a certificate for spec, signed by parent/parentKey (self-signed when
// parent is nil), and returns its DER and its key.
func issue(t testing.TB, sp spec, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if sp.notBefore.IsZero() {
		sp.notBefore = testNow.Add(-time.Hour)
	}
	if sp.notAfter.IsZero() {
		sp.notAfter = testNow.Add(365 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: sp.cn},
		NotBefore:    sp.notBefore, NotAfter: sp.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: sp.eku,
		DNSNames:    sp.dns,
	}
	for _, ip := range sp.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	if sp.ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	}
	if sp.notCA {
		tmpl.BasicConstraintsValid = true
	}
	signer := crypto.Signer(key)
	if parent == nil {
		parent = tmpl
	} else {
		signer = parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(t testing.TB, k crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// loadCA reads the CA pair of a generated tree.
func loadCA(t testing.TB, pairs []Pair) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	ca := Find(pairs, PairCA)
	data, err := os.ReadFile(ca.Cert.Path)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCerts(data)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := os.ReadFile(ca.Key.Path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(kd)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0], k
}

// find returns the first check of pair with the given name, or nil.
func find(checks []Check, pair, name string) *Check {
	for i := range checks {
		if checks[i].Pair == pair && checks[i].Name == name {
			return &checks[i]
		}
	}
	return nil
}

// problems lists the non-passing checks, for failure messages.
func problems(checks []Check) string {
	var b strings.Builder
	for _, c := range checks {
		if c.Status != Pass {
			b.WriteString(string(c.Status) + " " + c.Pair + "/" + c.Name + ": " + c.Message + "\n")
		}
	}
	return b.String()
}
