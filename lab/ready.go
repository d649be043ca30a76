package lab

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"go.etcd.io/etcd/client/pkg/v3/transport"
)

// probe checks that etcd answers on its client URL.
//
// Over http it asks GET /health and wants {"health":"true"}. Over https it tries, in
// order, the client pair that kube-apiserver.yaml gives in --etcd-cafile/certfile/
// keyfile (what the apiserver itself would use), then etcd's own server pair with its
// --trusted-ca-file (kubeadm issues the server certificate for clientAuth too), and
// last a client with no certificate that does not check the server: if etcd then
// refuses with a TLS alert ("certificate required"), it is up and enforcing mutual TLS,
// which counts as ready. The first answer wins. Each try has a 1 s timeout.
type probe struct {
	endpoint string
	clients  []probeClient
}

type probeClient struct {
	*http.Client
	noCert bool // has no client certificate and trusts any server
}

func newProbe(root string, etcd *discover.Manifest) *probe {
	p := &probe{endpoint: clientURL(etcd)}
	if !strings.HasPrefix(p.endpoint, "https://") {
		p.clients = []probeClient{{Client: httpClient(nil)}}
		return p
	}
	for _, info := range tlsCandidates(root, etcd) {
		if cfg, err := info.ClientConfig(); err == nil {
			p.clients = append(p.clients, probeClient{Client: httpClient(cfg)})
		}
	}
	p.clients = append(p.clients, probeClient{Client: httpClient(&tls.Config{InsecureSkipVerify: true}), noCert: true})
	return p
}

// tlsCandidates lists client pairs that may be accepted by etcd, best first.
func tlsCandidates(root string, etcd *discover.Manifest) []transport.TLSInfo {
	var out []transport.TLSInfo
	if api, err := discover.ReadManifest(root, filepath.Join(root, filepath.FromSlash(APIServerFile)), discover.APIServerBinary); err == nil {
		if info, ok := apiServerTLS(api); ok {
			out = append(out, info)
		}
	}
	_, ca, _, _ := etcd.FlagPath("trusted-ca-file")
	_, cert, okC, mc := etcd.FlagPath("cert-file")
	_, key, okK, mk := etcd.FlagPath("key-file")
	if okC && okK && mc && mk {
		out = append(out, transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: ca})
	}
	return out
}

// apiServerTLS returns the host paths of kube-apiserver's --etcd-* files.
func apiServerTLS(api *discover.Manifest) (transport.TLSInfo, bool) {
	_, ca, _, _ := api.FlagPath("etcd-cafile")
	_, cert, okC, mc := api.FlagPath("etcd-certfile")
	_, key, okK, mk := api.FlagPath("etcd-keyfile")
	if !okC || !okK || !mc || !mk {
		return transport.TLSInfo{TrustedCAFile: ca}, false
	}
	return transport.TLSInfo{CertFile: cert, KeyFile: key, TrustedCAFile: ca}, true
}

func httpClient(cfg *tls.Config) *http.Client {
	return &http.Client{
		Timeout:   time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true},
	}
}

// check returns nil when etcd answers, or the last problem seen.
func (p *probe) check(ctx context.Context) error {
	var last error
	for _, c := range p.clients {
		err := health(ctx, c.Client, p.endpoint)
		if err == nil {
			return nil
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "remote error" && c.noCert {
			return nil // up, and refusing clients without a certificate
		}
		last = err
	}
	return last
}

func health(ctx context.Context, c *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var h struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &h) != nil || h.Health != "true" {
		return fmt.Errorf("GET %s/health: %s %s", endpoint, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
