package certs

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// Host is a name or IP a server or peer certificate must cover, and the flag it came from.
type Host struct {
	Name string // "10.0.0.5", "etcd-0.example.com", "localhost"
	From string // "--advertise-client-urls", "kube-apiserver.yaml --etcd-servers", "local clients"
	// Required hosts fail the SAN check when missing; the others warn.
	Required bool
}

// ServerHosts returns the hosts the server certificate must cover: those of etcd's
// --advertise-client-urls and --listen-client-urls (wildcard listen addresses skipped;
// missing ones fail), then those of kube-apiserver's --etcd-servers (which may name other
// members, so missing ones only warn) and localhost and 127.0.0.1 for local clients (warn).
func ServerHosts(s *discover.State) []Host {
	var hs []Host
	hs = urlHosts(hs, s.Etcd, "", "advertise-client-urls", true)
	hs = urlHosts(hs, s.Etcd, "", "listen-client-urls", true)
	hs = urlHosts(hs, s.APIServer, discover.APIServerFile+" ", "etcd-servers", false)
	hs = addHost(hs, Host{Name: "localhost", From: "local clients"})
	hs = addHost(hs, Host{Name: "127.0.0.1", From: "local clients"})
	return hs
}

// PeerHosts returns the hosts the peer certificate must cover: those of
// --initial-advertise-peer-urls and --listen-peer-urls (wildcards skipped).
func PeerHosts(s *discover.State) []Host {
	var hs []Host
	hs = urlHosts(hs, s.Etcd, "", "initial-advertise-peer-urls", true)
	hs = urlHosts(hs, s.Etcd, "", "listen-peer-urls", true)
	return hs
}

// urlHosts adds the hosts of the URLs in m's flag (a comma-separated list).
func urlHosts(hs []Host, m *discover.Manifest, prefix, flag string, required bool) []Host {
	if m == nil {
		return hs
	}
	v, ok := m.Flag(flag)
	if !ok {
		return hs
	}
	for _, h := range URLHosts(v) {
		hs = addHost(hs, Host{Name: h, From: prefix + "--" + flag, Required: required})
	}
	return hs
}

// URLHosts returns the host names and IPs of a comma-separated URL list, without
// wildcard addresses (0.0.0.0, ::) and unix sockets.
func URLHosts(list string) []string {
	var out []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || strings.HasPrefix(u.Scheme, "unix") {
			continue
		}
		h := u.Hostname()
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			continue
		}
		out = append(out, h)
	}
	return out
}

// addHost adds h unless a host of that name is there; a required one upgrades it.
func addHost(hs []Host, h Host) []Host {
	for i := range hs {
		if strings.EqualFold(hs[i].Name, h.Name) {
			hs[i].Required = hs[i].Required || h.Required
			return hs
		}
	}
	return append(hs, h)
}

// keyKind describes a certificate's public key: "ECDSA P-256", "RSA 2048", "Ed25519".
func keyKind(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

// ErrInvalidHost is wrapped by CheckName and CheckIP errors.
var ErrInvalidHost = errors.New("invalid host")

// CheckName accepts a name that may go into a certificate as its CN and a DNS SAN: a
// DNS name (RFC 1123 subdomain, letters case-insensitive) that is not an IP address.
// Anything else ("../../evil", "a b", "*") is refused with what a name may hold.
func CheckName(name string) error {
	if name == "" {
		return hostError("the name is empty")
	}
	if errs := validation.IsDNS1123Subdomain(strings.ToLower(name)); len(errs) > 0 {
		return hostError(fmt.Sprintf("%q is not a DNS name (RFC 1123: letters, digits, '-' and '.', each part starting and ending with a letter or digit, at most 253 characters)", name))
	}
	return nil
}

// CheckIP accepts an IP address a certificate can name: not 0.0.0.0 or ::.
func CheckIP(ip string) error {
	switch p := net.ParseIP(ip); {
	case p == nil:
		return hostError(fmt.Sprintf("%q is not an IP address (e.g. 10.0.0.5 or fd00::5)", ip))
	case p.IsUnspecified():
		return hostError(fmt.Sprintf("%q is the wildcard address, which no certificate can name", ip))
	}
	return nil
}

// CheckHost accepts a SAN: an IP address (CheckIP) or a DNS name (CheckName).
func CheckHost(h string) error {
	if net.ParseIP(h) != nil {
		return CheckIP(h)
	}
	return CheckName(h)
}

// hostError is a CheckName or CheckIP message that matches ErrInvalidHost.
type hostError string

func (e hostError) Error() string        { return string(e) }
func (e hostError) Is(target error) bool { return target == ErrInvalidHost }
