package etcdconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
)

// badServer starts an etcd with mutual TLS whose server certificate is replaced by l.
func badServer(t *testing.T, l testetcd.Leaf) *testetcd.Server {
	t.Helper()
	dir := t.TempDir()
	x := testetcd.NewTLS(t, dir)
	l.Server = true
	x.Sign(t, l, x.ServerCert, x.ServerKey)
	return testetcd.Start(t, testetcd.Options{TLSFiles: x, Dir: dir})
}

// TestCheckDiagnoses reaches real etcds with a wrong setting each and asserts the cause in
// words and the flag or file to change. The context is generous: a check that ran into it
// would return a deadline error, not the diagnosed one.
func TestCheckDiagnoses(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	plain := testetcd.Start(t, testetcd.Options{})
	other := testetcd.NewTLS(t, t.TempDir()) // an unrelated CA and its client pair
	wrongName := badServer(t, testetcd.Leaf{CommonName: "etcd", DNSNames: []string{"etcd.example"}, IPs: []net.IP{net.ParseIP("10.9.9.9")}})
	expired := badServer(t, testetcd.Leaf{CommonName: "etcd", DNSNames: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	dir := t.TempDir()
	oldCert, oldKey := filepath.Join(dir, "old.crt"), filepath.Join(dir, "old.key")
	srv.TLS.Sign(t, testetcd.Leaf{CommonName: "old-client", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, oldCert, oldKey)

	good := func(s *testetcd.Server) Conn {
		return FromFlags([]string{s.Endpoint}, s.TLS.CA, s.TLS.ClientCert, s.TLS.ClientKey)
	}
	swap := func(c Conn, f func(*Conn)) Conn { f(&c); return c }
	httpsOf := func(ep string) string { return strings.Replace(ep, "http://", "https://", 1) }
	httpOf := func(ep string) string { return strings.Replace(ep, "https://", "http://", 1) }
	deadPort := fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))

	for _, tc := range []struct {
		name   string
		conn   Conn
		reason Reason
		want   []string
	}{
		{"etcd not running", swap(good(srv), func(c *Conn) { c.Endpoints = []string{deadPort} }),
			ReasonRefused, []string{deadPort, "connection refused", "check that etcd runs", "--endpoints"}},
		{"wrong --cacert", swap(good(srv), func(c *Conn) { c.CACert = other.CA }),
			ReasonUnknownAuthority, []string{"not signed by the CA", "--cacert (ETCDCTL_CACERT), now " + other.CA, "--trusted-ca-file"}},
		{"no client pair", swap(good(srv), func(c *Conn) { c.Cert, c.Key, c.CertFrom, c.KeyFrom = "", "", "", "" }),
			ReasonCertRequired, []string{"requires a client certificate", "--cert and --key"}},
		{"client pair from another CA", swap(good(srv), func(c *Conn) { c.Cert, c.Key = other.ClientCert, other.ClientKey }),
			ReasonClientUntrusted, []string{"does not trust the client certificate", other.ClientCert, "--trusted-ca-file"}},
		{"expired client certificate", swap(good(srv), func(c *Conn) { c.Cert, c.Key = oldCert, oldKey }),
			ReasonClientExpired, []string{"expired", oldCert, "renew it, or pass another pair"}},
		{"https against a plain etcd", FromFlags([]string{httpsOf(plain.Endpoint)}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey),
			ReasonPlainPort, []string{"speaks plain http, not TLS", "use http://"}},
		{"http against a TLS etcd", FromFlags([]string{httpOf(srv.Endpoint)}, "", "", ""),
			ReasonTLSPort, []string{"speaks TLS, not plain http", "use https://", "--cacert, --cert and --key"}},
		{"server certificate for another name", good(wrongName),
			ReasonWrongName, []string{"does not name this host", "etcd.example, 10.9.9.9", "reissue etcd's server certificate with 127.0.0.1"}},
		{"expired server certificate", good(expired),
			ReasonServerExpired, []string{"expired", "renew etcd's server certificate"}},
		{"a web server that is not etcd", FromFlags([]string{httpServer(t)}, "", "", ""),
			ReasonNotEtcd, []string{"not etcd", "--listen-client-urls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := tc.conn.Check(ctx)
			t.Log(err)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check = %v, want an *Error", err)
			}
			if e.Reason != tc.reason || errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("reason %q, want %q: %v", e.Reason, tc.reason, err)
			}
			for _, w := range append(tc.want, tc.conn.Endpoint()) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not mention %q", err, w)
				}
			}
		})
	}

	// The right settings pass, and Client returns a working client.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []Conn{good(srv), FromFlags([]string{plain.Endpoint}, "", "", "")} {
		cli, err := c.Client(ctx)
		if err != nil {
			t.Fatalf("Client(%s) = %v", c.Endpoint(), err)
		}
		if _, err := cli.Put(ctx, "k", "v"); err != nil {
			t.Fatalf("put over %s: %v", c.Endpoint(), err)
		}
		cli.Close()
	}
}

// TestCheckNamesTheManifest: a setting read from a manifest is named with its file and
// flag, next to the command-line flag that overrides it.
func TestCheckNamesTheManifest(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	other := testetcd.NewTLS(t, t.TempDir())
	root := nodeRoot(t, "hardened")
	editManifest(t, root, "etcd.yaml", "--listen-client-urls=https://127.0.0.1:2379", "--listen-client-urls="+srv.Endpoint)
	pki := filepath.Join(root, "etc/kubernetes/pki")
	copyFile(t, other.CA, filepath.Join(pki, "etcd/ca.crt"))
	copyFile(t, srv.TLS.ClientCert, filepath.Join(pki, "apiserver-etcd-client.crt"))
	copyFile(t, srv.TLS.ClientKey, filepath.Join(pki, "apiserver-etcd-client.key"))
	c, err := FromState(load(t, root))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err = c.Check(ctx)
	want := filepath.Join(pki, "etcd/ca.crt") + " (from kube-apiserver.yaml --etcd-cafile) or pass --cacert (ETCDCTL_CACERT)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Check = %v, want it to name %q", err, want)
	}

	// CheckConfig, for a loaded configuration, diagnoses the same way and names the flag.
	cfg, err := c.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	var e *Error
	if err := CheckConfig(ctx, cfg); !errors.As(err, &e) || e.Reason != ReasonUnknownAuthority || !strings.Contains(err.Error(), "--cacert") {
		t.Fatalf("CheckConfig = %v", err)
	}
}

// httpServer is a real web server that is not etcd, e.g. a port taken by another service.
func httpServer(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(s.Close)
	return s.URL
}
