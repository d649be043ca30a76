// Package testetcd starts a real embedded etcd for tests, with mutual TLS made from
// certificates generated at test time. Nothing here is a mock: the server is etcd's own.
package testetcd

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// TLS holds the paths of a CA, a server pair and a client pair written in a test folder.
type TLS struct {
	CA, CAKey             string
	ServerCert, ServerKey string
	ClientCert, ClientKey string
}

// NewTLS writes an ECDSA CA, a server certificate for 127.0.0.1/localhost (serverAuth and
// clientAuth, so it also serves as a peer cert) and a client certificate into dir.
func NewTLS(t testing.TB, dir string) *TLS {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "etcd-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	out := &TLS{
		CA: filepath.Join(dir, "ca.crt"), CAKey: filepath.Join(dir, "ca.key"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	writePair(t, out.CA, out.CAKey, caDER, caKey)
	leaf := func(serial int64, cn string, usage []x509.ExtKeyUsage, certPath, keyPath string) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  usage,
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		writePair(t, certPath, keyPath, der, key)
	}
	leaf(2, "etcd-server", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, out.ServerCert, out.ServerKey)
	leaf(3, "etcd-client", []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, out.ClientCert, out.ClientKey)
	return out
}

// Server is a running embedded etcd.
type Server struct {
	Endpoint string // "https://127.0.0.1:PORT" (or http:// without TLS)
	TLS      *TLS   // nil without TLS
	DataDir  string
	Etcd     *embed.Etcd
}

// Options choose how the server is started.
type Options struct {
	// TLS serves clients over mutual TLS (client-cert-auth) with certificates from NewTLS.
	TLS bool
	// TLSFiles, when set, are the certificates to serve with instead of new ones (implies
	// TLS): a test of a bad server certificate replaces ServerCert and ServerKey.
	TLSFiles *TLS
	// Dir holds data and certs; a t.TempDir() when empty.
	Dir string
	// QuotaBytes raises etcd's backend quota (for large databases in benchmarks).
	QuotaBytes int64
}

// Start starts an embedded etcd on free loopback ports and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	if opts.QuotaBytes > 0 {
		cfg.QuotaBackendBytes = opts.QuotaBytes
	}
	scheme := "http"
	s := &Server{DataDir: cfg.Dir}
	if opts.TLS || opts.TLSFiles != nil {
		scheme = "https"
		s.TLS = opts.TLSFiles
		if s.TLS == nil {
			s.TLS = NewTLS(t, dir)
		}
		cfg.ClientTLSInfo = transport.TLSInfo{
			CertFile: s.TLS.ServerCert, KeyFile: s.TLS.ServerKey,
			TrustedCAFile: s.TLS.CA, ClientCertAuth: true,
		}
	}
	clientURL := mustURL(t, fmt.Sprintf("%s://127.0.0.1:%d", scheme, FreePort(t)))
	peerURL := mustURL(t, fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		t.Fatal("embedded etcd was not ready within 30s")
	}
	s.Etcd, s.Endpoint = e, clientURL.String()
	return s
}

// ClientConfig returns a client configuration for the server, with the client cert when
// the server uses TLS.
func (s *Server) ClientConfig(t testing.TB) clientv3.Config {
	t.Helper()
	cfg := clientv3.Config{Endpoints: []string{s.Endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if s.TLS != nil {
		tc, err := transport.TLSInfo{CertFile: s.TLS.ClientCert, KeyFile: s.TLS.ClientKey, TrustedCAFile: s.TLS.CA}.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cfg.TLS = tc
	}
	return cfg
}

// Client returns a connected client that is closed when the test ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(s.ClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// LoadCert reads a PEM certificate, for tests that inspect what they generated.
func LoadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(path, path)
	if err == nil {
		return pair.Leaf
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePair(t testing.TB, certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) {
	t.Helper()
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustURL(t testing.TB, s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// Leaf describes a certificate Sign makes, for tests of bad certificates.
type Leaf struct {
	CommonName string
	// DNSNames and IPs are the SANs.
	DNSNames []string
	IPs      []net.IP
	// NotBefore and NotAfter default to an hour ago and a day from now.
	NotBefore, NotAfter time.Time
	// Server makes a server certificate (serverAuth); else a client one (clientAuth).
	Server bool
}

// Sign writes a certificate for l, signed by x's CA, and its new key into certPath and
// keyPath.
func (x *TLS) Sign(t testing.TB, l Leaf, certPath, keyPath string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(x.CA, x.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	if l.NotBefore.IsZero() {
		l.NotBefore = time.Now().Add(-time.Hour)
	}
	if l.NotAfter.IsZero() {
		l.NotAfter = time.Now().Add(24 * time.Hour)
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	if l.Server {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: l.CommonName},
		NotBefore:    l.NotBefore,
		NotAfter:     l.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  usage,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, pair.Leaf, &key.PublicKey, pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, certPath, keyPath, der, key)
}
