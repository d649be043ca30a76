package rollout

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Target is how to reach one etcd: its client URL and, over https, the files of the
// client that checks it. Paths are host paths under the root.
type Target struct {
	// Endpoint is the client URL, e.g. "https://127.0.0.1:2379".
	Endpoint string `json:"endpoint"`
	// CAFile verifies etcd's server certificate; empty over http.
	CAFile string `json:"caFile,omitempty"`
	// CertFile and KeyFile are the client certificate and key; empty over http.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// Client says where the client pair came from, for messages:
	// "kube-apiserver.yaml --etcd-certfile" or "healthcheck-client".
	Client string `json:"client,omitempty"`
	// MetricsURL is where etcd serves /metrics (its --listen-metrics-urls, else
	// Endpoint); the check reads etcd's process start time there to see a restart.
	MetricsURL string `json:"metricsURL,omitempty"`
}

// TLS reports whether the target speaks https.
func (t Target) TLS() bool { return strings.HasPrefix(t.Endpoint, "https://") }

// String names the target for messages: the URL and, over https, the client certificate.
func (t Target) String() string {
	if !t.TLS() {
		return t.Endpoint
	}
	return fmt.Sprintf("%s with client certificate %s (%s) and CA %s", t.Endpoint, t.CertFile, t.Client, t.CAFile)
}

// Conn is the target as an etcd connection, so that the health check dials through the
// project's one connection check; messages name the planned manifests, not flags.
func (t Target) Conn() etcdconn.Conn {
	c := etcdconn.Conn{Endpoints: []string{t.Endpoint}, EndpointFrom: "etcd.yaml --advertise-client-urls / --listen-client-urls", FromPlan: true}
	if !t.TLS() {
		return c
	}
	c.CACert, c.Cert, c.Key = t.CAFile, t.CertFile, t.KeyFile
	c.CertFrom, c.KeyFrom, c.CACertFrom = t.Client, t.Client, "etcd.yaml --trusted-ca-file"
	if t.Client == discover.APIServerFile+" --etcd-certfile" {
		c.CACertFrom = discover.APIServerFile + " --etcd-cafile"
	}
	return c
}

// ErrNoClientCert means a TLS etcd could not be checked: no client certificate was found.
var ErrNoClientCert = errors.New("no client certificate to check etcd with")

// TargetFor works out how to reach the etcd that etcdYAML describes, with the client
// pair that apiYAML (kube-apiserver.yaml, nil when there is none) gives in
// --etcd-cafile/--etcd-certfile/--etcd-keyfile, else kubeadm's healthcheck-client pair.
// The endpoint is the first loopback URL of --advertise-client-urls, then of
// --listen-client-urls, then the first advertised one (a wildcard host becomes
// 127.0.0.1). Files are mapped to the host through the pods' hostPath volumes.
func TargetFor(l discover.Layout, etcdYAML, apiYAML []byte) (Target, error) {
	l = discover.Defaults(l.Root, l.ManifestsDir, l.PKIDir)
	st := &discover.State{Layout: l}
	etcdPath := filepath.Join(l.ManifestsDir, discover.EtcdFile)
	m, err := discover.ParseManifest(l.Root, etcdPath, etcdYAML, discover.EtcdBinary)
	if err != nil {
		return Target{}, err
	}
	st.Etcd = m
	if apiYAML != nil {
		api, err := discover.ParseManifest(l.Root, filepath.Join(l.ManifestsDir, discover.APIServerFile), apiYAML, discover.APIServerBinary)
		if err != nil {
			return Target{}, err
		}
		st.APIServer = api
	}
	t := Target{Endpoint: clientURL(m)}
	t.MetricsURL = metricsURL(m, t.Endpoint)
	if !t.TLS() {
		return t, nil
	}
	if api := st.APIServer; api != nil {
		ca, okCA := api.Flag("etcd-cafile")
		cert, okC := api.Flag("etcd-certfile")
		key, okK := api.Flag("etcd-keyfile")
		if okCA && okC && okK && ca != "" && cert != "" && key != "" {
			t.CAFile, t.CertFile, t.KeyFile = st.HostFile(api, ca), st.HostFile(api, cert), st.HostFile(api, key)
			t.Client = discover.APIServerFile + " --etcd-certfile"
			return t, nil
		}
	}
	pairs := certs.Discover(st)
	hc, ca := certs.Find(pairs, certs.PairHealthcheck), certs.Find(pairs, certs.PairCA)
	if hc == nil || ca == nil {
		return t, fmt.Errorf("%s serves %s over TLS: %w; kube-apiserver.yaml has no --etcd-certfile and kubeadm's healthcheck-client pair is not known", etcdPath, t.Endpoint, ErrNoClientCert)
	}
	t.CAFile, t.CertFile, t.KeyFile = ca.Cert.Path, hc.Cert.Path, hc.Key.Path
	if v, ok := m.Flag("trusted-ca-file"); ok && v != "" {
		t.CAFile = st.HostFile(m, v)
	}
	t.Client = certs.PairHealthcheck
	return t, nil
}

// checkFiles reports the target's files that neither exist under root nor are created
// by p: a check with them could only fail.
func (t Target) checkFiles(p *plan.Plan, root string) error {
	var missing []string
	for _, f := range []string{t.CAFile, t.CertFile, t.KeyFile} {
		if f == "" {
			continue
		}
		if rel, err := filepath.Rel(root, f); err == nil && p.Find(filepath.ToSlash(rel)) != nil {
			continue
		}
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, f)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("etcd at %s could not be checked after the change: %s does not exist and the plan does not create it: %w",
			t.Endpoint, missing[0], ErrNoClientCert)
	default:
		return fmt.Errorf("etcd at %s could not be checked after the change: %s do not exist and the plan does not create them: %w",
			t.Endpoint, strings.Join(missing, ", "), ErrNoClientCert)
	}
}

// clientURL picks the URL to check etcd on (see TargetFor).
func clientURL(m *discover.Manifest) string {
	var first *url.URL
	for _, flag := range []string{"advertise-client-urls", "listen-client-urls"} {
		for _, u := range urls(m, flag) {
			if isLoopback(u.Hostname()) {
				return u.String()
			}
			if first == nil {
				first = u
			}
		}
	}
	if first == nil {
		return "http://localhost:2379" // etcd's default
	}
	return loopbackForWildcard(first).String()
}

// metricsURL is the first loopback --listen-metrics-urls, else the first one, else the
// client URL (etcd serves /metrics there too).
func metricsURL(m *discover.Manifest, endpoint string) string {
	list := urls(m, "listen-metrics-urls")
	for _, u := range list {
		if isLoopback(u.Hostname()) {
			return u.String()
		}
	}
	if len(list) > 0 {
		return loopbackForWildcard(list[0]).String()
	}
	return endpoint
}

func urls(m *discover.Manifest, flag string) []*url.URL {
	v, ok := m.Flag(flag)
	if !ok {
		return nil
	}
	var out []*url.URL
	for _, s := range strings.Split(v, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err == nil && u.Host != "" {
			out = append(out, u)
		}
	}
	return out
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}

func loopbackForWildcard(u *url.URL) *url.URL {
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsUnspecified() {
		c := *u
		c.Host = net.JoinHostPort("127.0.0.1", u.Port())
		return &c
	}
	return u
}
