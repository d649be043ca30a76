package etcdconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CheckTimeout bounds a whole connection check, whatever the caller's deadline for the
// work after it: a check answers in seconds, so that a wrong flag never looks like a hang.
const CheckTimeout = 5 * time.Second

// Reason is why a connection check failed, in words.
type Reason string

// The causes a connection check tells apart.
const (
	ReasonRefused          Reason = "connection refused: nothing listens there"
	ReasonNoAnswer         Reason = "no answer"
	ReasonNoHost           Reason = "the host name does not resolve"
	ReasonUnknownAuthority Reason = "its server certificate is not signed by the CA the client trusts"
	ReasonWrongName        Reason = "its server certificate does not name this host"
	ReasonServerExpired    Reason = "its server certificate has expired or is not valid yet"
	ReasonCertRequired     Reason = "it requires a client certificate and none was given"
	ReasonClientUntrusted  Reason = "it does not trust the client certificate"
	ReasonClientExpired    Reason = "it refused the client certificate as expired"
	ReasonClientRefused    Reason = "it refused the client certificate"
	ReasonPlainPort        Reason = "it speaks plain http, not TLS"
	ReasonTLSPort          Reason = "it speaks TLS, not plain http"
	ReasonNotEtcd          Reason = "what answers there is not etcd"
	ReasonOther            Reason = "the connection failed"
)

// Error is a failed connection check: the endpoint, the cause in words and what to change,
// naming the flag or the file the setting came from.
type Error struct {
	Endpoint string
	Reason   Reason
	// Fix says what to change.
	Fix string
	// Err is what the network or TLS layer said.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("etcd at %s: %s (%v); %s", e.Endpoint, e.Reason, e.Err, e.Fix)
}

func (e *Error) Unwrap() error { return e.Err }

// Check makes sure etcd answers at the connection's endpoints before any work is started:
// it dials each endpoint itself with the same TLS settings a client would use, completes
// the handshake and asks for etcd's /version, all within CheckTimeout (or ctx's end, when
// sooner). It passes when one endpoint answers as etcd; otherwise it returns the first
// endpoint's *Error (or an error naming a TLS file that cannot be read). Dialling directly
// is what makes the cause visible: the etcd client retries a refused connection or a
// refused certificate until its context ends, and then says only "context deadline exceeded".
func (c Conn) Check(ctx context.Context) error {
	cfg, err := c.ClientConfig()
	if err != nil {
		return err
	}
	return c.check(ctx, cfg.TLS)
}

// Client checks the connection (see Check) and returns a client for it; the caller closes it.
func (c Conn) Client(ctx context.Context) (*clientv3.Client, error) {
	cfg, err := c.ClientConfig()
	if err != nil {
		return nil, err
	}
	if err := c.check(ctx, cfg.TLS); err != nil {
		return nil, err
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("etcd at %s: %w", strings.Join(c.Endpoints, ","), err)
	}
	return cli, nil
}

// CheckConfig is Check for a ready client configuration, whose TLS files are already
// loaded: its messages name the flags, not the files.
func CheckConfig(ctx context.Context, cfg clientv3.Config) error {
	return Conn{Endpoints: cfg.Endpoints}.check(ctx, cfg.TLS)
}

func (c Conn) check(ctx context.Context, tc *tls.Config) error {
	if len(c.Endpoints) == 0 {
		return errors.New("no etcd endpoint: pass --endpoints or set ETCDCTL_ENDPOINTS")
	}
	ctx, cancel := context.WithTimeout(ctx, CheckTimeout)
	defer cancel()
	var first error
	for _, ep := range c.Endpoints {
		err := c.probe(ctx, ep, tc)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// probe checks one endpoint: TCP, the TLS handshake when secure, then GET /version.
// With TLS 1.3 the server's verdict on the client certificate arrives only after the
// client's side of the handshake, so the request's answer is what shows it.
func (c Conn) probe(ctx context.Context, ep string, tc *tls.Config) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("etcd at %s was not checked: %w", ep, err)
	}
	host, secure := hostOf(ep), c.secure() && !strings.HasPrefix(ep, "http://")
	if tc == nil {
		secure = false
	}
	d := &net.Dialer{Timeout: DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return c.diagnose(ctx, ep, err, tc)
	}
	defer raw.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	conn := raw
	if secure {
		cfg := tc.Clone()
		cfg.NextProtos = nil // no ALPN: etcd then serves HTTP/1.1 on the same port
		if cfg.ServerName == "" {
			cfg.ServerName = hostname(host)
		}
		t := tls.Client(raw, cfg)
		if err := t.HandshakeContext(ctx); err != nil {
			var header tls.RecordHeaderError
			if (errors.As(err, &header) || errors.Is(err, io.EOF)) && speaksPlainHTTP(ctx, host) {
				err = errPlainPort
			}
			return c.diagnose(ctx, ep, err, tc)
		}
		conn = t
	}
	if err := askVersion(conn, host); err != nil {
		if !secure && speaksTLS(ctx, host) {
			err = errTLSPort
		}
		return c.diagnose(ctx, ep, err, tc)
	}
	return nil
}

var (
	errTLSPort   = errors.New("the port answered a TLS handshake")
	errPlainPort = errors.New("the port answered plain http")
	errNotEtcd   = errors.New("GET /version did not answer as etcd")
)

// askVersion sends GET /version and expects etcd's answer: 200 with an etcdserver version.
func askVersion(conn net.Conn, host string) error {
	req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/version", nil)
	req.Close = true
	if err := req.Write(conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var v struct {
		Server string `json:"etcdserver"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &v) != nil || v.Server == "" {
		if bytes.Contains(body, []byte("HTTPS server")) {
			return errTLSPort // Go's answer to plain http on a TLS port
		}
		return fmt.Errorf("%w (HTTP %s)", errNotEtcd, resp.Status)
	}
	return nil
}

// speaksTLS reports whether host completes a TLS handshake (certificates unchecked: this
// only tells a TLS port from a plain one, nothing is sent over it).
func speaksTLS(ctx context.Context, host string) bool {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: DialTimeout}, Config: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // a probe of the protocol only
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		var op *net.OpError
		// A server that asks for a client certificate may refuse the handshake: still TLS.
		return errors.As(err, &op) && op.Op == "remote error"
	}
	conn.Close()
	return true
}

// speaksPlainHTTP reports whether host answers a plain http request, to tell a plain
// port from a TLS server that closed the handshake.
func speaksPlainHTTP(ctx context.Context, host string) bool {
	conn, err := (&net.Dialer{Timeout: DialTimeout}).DialContext(ctx, "tcp", host)
	if err != nil {
		return false
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	err = askVersion(conn, host)
	return err == nil || errors.Is(err, errNotEtcd)
}

// diagnose turns what the dial, the handshake or the request said into an *Error that
// names the cause and the flag or file to change.
func (c Conn) diagnose(ctx context.Context, ep string, err error, tc *tls.Config) error {
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("checking etcd at %s: %w", ep, ctx.Err()) // Ctrl-C: no diagnosis
	}
	e := &Error{Endpoint: ep, Err: err, Reason: ReasonOther}
	endpoints := "check " + c.flagOrFile("--endpoints (ETCDCTL_ENDPOINTS)", "", c.EndpointFrom)
	var (
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		dnsErr    *net.DNSError
		op        *net.OpError
	)
	remote := ""
	if errors.As(err, &op) && op.Op == "remote error" {
		remote = op.Err.Error()
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Reason = ReasonRefused
		e.Fix = "check that etcd runs (crictl ps --name etcd) and listens on that address and port, or fix " +
			c.flagOrFile("--endpoints (ETCDCTL_ENDPOINTS)", "", c.EndpointFrom)
	case errors.As(err, &dnsErr):
		e.Reason, e.Fix = ReasonNoHost, endpoints
	case errors.As(err, &unknownCA):
		e.Reason = ReasonUnknownAuthority
		e.Fix = "pass the CA that signed etcd's server certificate (etcd.yaml's --trusted-ca-file): " +
			c.flagOrFile("--cacert (ETCDCTL_CACERT)", c.CACert, c.CACertFrom)
	case errors.As(err, &hostErr):
		e.Reason = ReasonWrongName
		e.Fix = fmt.Sprintf("use a host its certificate names (%s) in %s, or reissue etcd's server certificate with %s in its SANs",
			certNames(hostErr.Certificate), c.flagOrFile("--endpoints (ETCDCTL_ENDPOINTS)", "", c.EndpointFrom), hostErr.Host)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		e.Reason = ReasonServerExpired
		e.Fix = "renew etcd's server certificate (etcd.yaml's --cert-file), e.g. with etcd-harden's certificate step, then let etcd restart"
	case strings.Contains(remote, "certificate required"),
		remote != "" && c.Cert == "" && tc != nil && len(tc.Certificates) == 0 && strings.Contains(remote, "bad certificate"):
		e.Reason = ReasonCertRequired
		e.Fix = "pass a client pair signed by etcd's client CA (etcd.yaml's --trusted-ca-file) with --cert and --key (ETCDCTL_CERT, ETCDCTL_KEY), e.g. kubeadm's apiserver-etcd-client or healthcheck-client pair"
	case strings.Contains(remote, "unknown certificate authority"):
		e.Reason = ReasonClientUntrusted
		e.Fix = "pass a client pair signed by the CA in etcd.yaml's --trusted-ca-file: " + c.pairFix()
	case strings.Contains(remote, "expired certificate"):
		e.Reason = ReasonClientExpired
		e.Fix = "renew it, or pass another pair: " + c.pairFix()
	case remote != "" && strings.Contains(remote, "certificate"):
		e.Reason = ReasonClientRefused
		e.Fix = "pass a client pair for client authentication signed by etcd's --trusted-ca-file CA: " + c.pairFix()
	case errors.Is(err, errPlainPort):
		e.Reason = ReasonPlainPort
		e.Fix = "use http:// for this endpoint (" + endpoints + "), or harden etcd first"
		if c.FromPlan {
			e.Fix = "etcd has not restarted with the planned TLS settings yet, or " + endpoints
		}
	case errors.Is(err, errTLSPort):
		e.Reason = ReasonTLSPort
		e.Fix = "use https:// with --cacert, --cert and --key (ETCDCTL_*) or the manifests' client pair; " + endpoints
		if c.FromPlan {
			e.Fix = "etcd still serves the TLS it had, or " + endpoints
		}
	case errors.Is(err, errNotEtcd):
		e.Reason = ReasonNotEtcd
		e.Fix = endpoints + ": it must be one of etcd's --listen-client-urls"
	case ctx.Err() != nil || isTimeout(err):
		e.Reason = ReasonNoAnswer
		e.Fix = fmt.Sprintf("nothing answered within %s: check the address, a firewall, and that etcd is not overloaded; %s", CheckTimeout, endpoints)
		if ctx.Err() != nil {
			e.Err = ctx.Err()
		}
	default:
		e.Fix = endpoints + ", --cacert, --cert and --key"
	}
	return e
}

// flagOrFile says where to change a setting: the file and the manifest flag it came from
// when it came from a manifest, and the command-line flag that overrides it.
func (c Conn) flagOrFile(flag, file, from string) string {
	if c.FromPlan {
		switch {
		case file != "" && from != "":
			return file + " (from " + from + ")"
		case file != "":
			return file
		}
		return from
	}
	if from == "" || strings.HasPrefix(from, "--") {
		if file != "" {
			return flag + ", now " + file
		}
		return flag
	}
	if file != "" {
		return fmt.Sprintf("%s (from %s) or pass %s", file, from, flag)
	}
	return fmt.Sprintf("%s or pass %s", from, flag)
}

func (c Conn) pairFix() string {
	if c.Cert == "" {
		return "--cert and --key (ETCDCTL_CERT, ETCDCTL_KEY)"
	}
	return c.flagOrFile("--cert and --key (ETCDCTL_CERT, ETCDCTL_KEY)", c.Cert, c.CertFrom)
}

func certNames(cert *x509.Certificate) string {
	if cert == nil {
		return "see the certificate"
	}
	names := append([]string(nil), cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no host names"
	}
	return strings.Join(names, ", ")
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// hostOf is host:port of an endpoint URL or host:port; etcd's client port when the URL
// names none.
func hostOf(ep string) string {
	host := ep
	if strings.Contains(ep, "://") {
		if u, err := url.Parse(ep); err == nil {
			host = u.Host
		}
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		return net.JoinHostPort(strings.Trim(host, "[]"), "2379")
	}
	return host
}

func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
