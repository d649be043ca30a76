// Package etcdconn says how to reach etcd as a client on a control-plane node: from
// etcdctl's own flags and ETCDCTL_* variables when they are given, else from the static
// pod manifests (the endpoint etcd advertises, the client pair kube-apiserver uses).
// Conn.Check is the project's one connection check: every command and step that dials
// etcd goes through it (or Conn.Client), so a wrong setting is named in seconds.
package etcdconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// DialTimeout bounds the first connection, so that an unreachable endpoint fails in
// seconds rather than hanging; etcdctl's --dial-timeout has the same default.
const DialTimeout = 2 * time.Second

// Where settings come from when they are given on the command line.
const (
	FromEndpointsFlag = "--endpoints / ETCDCTL_ENDPOINTS"
	FromCACertFlag    = "--cacert / ETCDCTL_CACERT"
	FromCertFlag      = "--cert / ETCDCTL_CERT"
	FromKeyFlag       = "--key / ETCDCTL_KEY"
)

// Conn is how to reach etcd: etcdctl's --endpoints --cacert --cert --key, with where each
// came from so that an error can name the flag or manifest to fix. Paths are host paths.
type Conn struct {
	Endpoints         []string
	CACert, Cert, Key string
	// EndpointFrom, CACertFrom, CertFrom and KeyFrom say where each setting came from,
	// e.g. "etcd.yaml --listen-client-urls" or FromCertFlag.
	EndpointFrom, CACertFrom, CertFrom, KeyFrom string
	// FromPlan marks settings read from a plan's manifests, which no flag overrides
	// (apply checks what the plan configures): messages then name only the files.
	FromPlan bool
}

// FromFlags is a Conn from etcdctl's flags (already merged with the ETCDCTL_* variables).
func FromFlags(endpoints []string, cacert, cert, key string) Conn {
	c := Conn{Endpoints: endpoints, CACert: cacert, Cert: cert, Key: key}
	set := func(v string, from *string, label string) {
		if v != "" {
			*from = label
		}
	}
	if len(endpoints) > 0 {
		c.EndpointFrom = FromEndpointsFlag
	}
	set(cacert, &c.CACertFrom, FromCACertFlag)
	set(cert, &c.CertFrom, FromCertFlag)
	set(key, &c.KeyFrom, FromKeyFlag)
	return c
}

// FromCommandLine completes the settings given as flags with etcdctl's variables
// (ETCDCTL_ENDPOINTS, ETCDCTL_CACERT, ETCDCTL_CERT, ETCDCTL_KEY, read with getenv) where
// the flags say nothing, and marks each setting as given on the command line.
func FromCommandLine(flags Conn, getenv func(string) string) Conn {
	if len(flags.Endpoints) == 0 {
		if v := getenv("ETCDCTL_ENDPOINTS"); v != "" {
			flags.Endpoints = strings.Split(v, ",")
		}
	}
	for _, f := range []struct {
		v   *string
		env string
	}{{&flags.CACert, "ETCDCTL_CACERT"}, {&flags.Cert, "ETCDCTL_CERT"}, {&flags.Key, "ETCDCTL_KEY"}} {
		if *f.v == "" {
			*f.v = getenv(f.env)
		}
	}
	return FromFlags(flags.Endpoints, flags.CACert, flags.Cert, flags.Key)
}

// FromState reads the connection from the manifests. The endpoint is a loopback URL from
// etcd.yaml's --listen-client-urls when there is one (a snapshot taken on the node itself
// need not leave it), else the first of --advertise-client-urls. For an https endpoint the
// TLS files are kube-apiserver.yaml's --etcd-cafile, --etcd-certfile and --etcd-keyfile
// mapped to the host, else etcd's --trusted-ca-file and kubeadm's healthcheck-client pair
// in the pki folder. An http endpoint (etcd before hardening) needs no TLS files.
func FromState(s *discover.State) (Conn, error) {
	if s == nil || s.Etcd == nil {
		return Conn{}, errors.New("the etcd manifest has not been read: pass --endpoints (and --cacert, --cert, --key for https)")
	}
	ep, from, err := endpoint(s.Etcd)
	if err != nil {
		return Conn{}, err
	}
	c := Conn{Endpoints: []string{ep}, EndpointFrom: from}
	if !strings.HasPrefix(ep, "https://") {
		return c, nil
	}
	c.CACert, c.CACertFrom = tlsFile(s, "etcd-cafile", "trusted-ca-file", "ca.crt")
	c.Cert, c.CertFrom = tlsFile(s, "etcd-certfile", "", "healthcheck-client.crt")
	c.Key, c.KeyFrom = tlsFile(s, "etcd-keyfile", "", "healthcheck-client.key")
	return c, nil
}

// Resolve is the connection to use: each setting given on the command line (flags) wins,
// the rest comes from the manifests. When the manifests cannot tell (s is nil, or etcd.yaml
// has no client URL) the flags alone are used, provided they name an endpoint.
func Resolve(flags Conn, s *discover.State) (Conn, error) {
	c, err := FromState(s)
	if err != nil {
		if len(flags.Endpoints) == 0 {
			return Conn{}, err
		}
		return flags, nil
	}
	if len(flags.Endpoints) > 0 {
		c.Endpoints, c.EndpointFrom = flags.Endpoints, flags.EndpointFrom
	}
	pick := func(v, from string, dst, dstFrom *string) {
		if v != "" {
			*dst, *dstFrom = v, from
		}
	}
	pick(flags.CACert, flags.CACertFrom, &c.CACert, &c.CACertFrom)
	pick(flags.Cert, flags.CertFrom, &c.Cert, &c.CertFrom)
	pick(flags.Key, flags.KeyFrom, &c.Key, &c.KeyFrom)
	return c, nil
}

// DataDir is the host path of etcd's --data-dir ("" when the manifest does not say), for
// the snapshot destination's "outside data dir" check.
func DataDir(s *discover.State) string {
	if s == nil || s.Etcd == nil {
		return ""
	}
	v, ok := s.Etcd.Flag("data-dir")
	if !ok || v == "" {
		return ""
	}
	return s.HostFile(s.Etcd, v)
}

// Endpoint is the first endpoint, "" when there is none.
func (c Conn) Endpoint() string {
	if len(c.Endpoints) == 0 {
		return ""
	}
	return c.Endpoints[0]
}

// ClientConfig builds the etcd client configuration: TLS from the CA, certificate and key
// files for https endpoints (each file must exist and parse; the error names the file and
// where its path came from), none for http. Its logger is a no-op: the caller reports.
func (c Conn) ClientConfig() (clientv3.Config, error) {
	if len(c.Endpoints) == 0 {
		return clientv3.Config{}, errors.New("no etcd endpoint: pass --endpoints or set ETCDCTL_ENDPOINTS")
	}
	for _, ep := range c.Endpoints {
		if err := checkEndpoint(ep, c.EndpointFrom); err != nil {
			return clientv3.Config{}, err
		}
	}
	cfg := clientv3.Config{Endpoints: c.Endpoints, DialTimeout: DialTimeout, Logger: zap.NewNop()}
	if !c.secure() {
		return cfg, nil
	}
	t, err := c.tlsConfig()
	if err != nil {
		return clientv3.Config{}, err
	}
	cfg.TLS = t
	return cfg, nil
}

// secure reports whether the endpoints use TLS: https, or no scheme with TLS files given
// (etcdctl's rule for "host:port").
func (c Conn) secure() bool {
	for _, ep := range c.Endpoints {
		if strings.HasPrefix(ep, "https://") {
			return true
		}
		if !strings.Contains(ep, "://") && (c.CACert != "" || c.Cert != "") {
			return true
		}
	}
	return false
}

func (c Conn) tlsConfig() (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CACert != "" {
		pem, err := readFile("CA certificate", c.CACert, c.CACertFrom, "--cacert")
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA certificate %s%s holds no PEM certificate; pass the CA that signed etcd's server certificate with --cacert", c.CACert, from(c.CACertFrom))
		}
		t.RootCAs = pool
	}
	switch {
	case c.Cert == "" && c.Key == "":
		return t, nil
	case c.Cert == "":
		return nil, fmt.Errorf("a client key %s%s was given without its certificate; pass --cert too", c.Key, from(c.KeyFrom))
	case c.Key == "":
		return nil, fmt.Errorf("a client certificate %s%s was given without its key; pass --key too", c.Cert, from(c.CertFrom))
	}
	certPEM, err := readFile("client certificate", c.Cert, c.CertFrom, "--cert")
	if err != nil {
		return nil, err
	}
	keyPEM, err := readFile("client key", c.Key, c.KeyFrom, "--key")
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("client certificate %s and key %s do not make a pair: %w; pass a matching --cert and --key", c.Cert, c.Key, err)
	}
	t.Certificates = []tls.Certificate{pair}
	return t, nil
}

// readFile reads one TLS file; a missing one gives an error naming the file, where its
// path came from and the flag that overrides it.
func readFile(what, path, src, flag string) ([]byte, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s %s%s does not exist: %w; pass %s with the right file", what, path, from(src), err, flag)
	case err != nil:
		return nil, fmt.Errorf("read %s %s%s: %w; run as a user that can read it (root on a node) or pass %s", what, path, from(src), err, flag)
	}
	return data, nil
}

func from(src string) string {
	if src == "" {
		return ""
	}
	return " (from " + src + ")"
}

func checkEndpoint(ep, src string) error {
	if !strings.Contains(ep, "://") {
		if _, _, err := net.SplitHostPort(ep); err != nil {
			return fmt.Errorf("etcd endpoint %q%s is not a URL or host:port: %w", ep, from(src), err)
		}
		return nil
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("etcd endpoint %q%s is not an http:// or https:// URL with a host", ep, from(src))
	}
	return nil
}

// endpoint picks the client URL to dial from the etcd manifest.
func endpoint(m *discover.Manifest) (string, string, error) {
	file := filepath.Base(m.Path)
	listen, _ := m.Flag("listen-client-urls")
	for _, u := range splitURLs(listen) {
		if isLoopback(u) {
			return u, file + " --listen-client-urls", nil
		}
	}
	adv, _ := m.Flag("advertise-client-urls")
	if urls := splitURLs(adv); len(urls) > 0 {
		return urls[0], file + " --advertise-client-urls", nil
	}
	return "", "", fmt.Errorf("%s has neither --advertise-client-urls nor a loopback --listen-client-urls: pass --endpoints", m.Path)
}

func splitURLs(v string) []string {
	var out []string
	for u := range strings.SplitSeq(v, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

func isLoopback(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// tlsFile finds one client TLS file: kube-apiserver.yaml's flag apiFlag, else etcd.yaml's
// etcdFlag, else name in the pki folder.
func tlsFile(s *discover.State, apiFlag, etcdFlag, name string) (path, src string) {
	if m := s.APIServer; m != nil {
		if v, ok := m.Flag(apiFlag); ok && v != "" {
			return s.HostFile(m, v), filepath.Base(m.Path) + " --" + apiFlag
		}
	}
	if etcdFlag != "" {
		if v, ok := s.Etcd.Flag(etcdFlag); ok && v != "" {
			return s.HostFile(s.Etcd, v), filepath.Base(s.Etcd.Path) + " --" + etcdFlag
		}
	}
	return filepath.Join(s.Layout.PKIDir, name), "kubeadm's " + name + " in " + s.Layout.PKIDir
}
