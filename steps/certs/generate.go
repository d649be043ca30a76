package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// KeyType is the kind of private key Generate makes.
type KeyType string

// Key types. ECDSA keys are written as SEC1 "EC PRIVATE KEY" and RSA keys as PKCS#1
// "RSA PRIVATE KEY", the PEM forms kubeadm writes (client-go's keyutil).
const (
	ECDSAP256 KeyType = "ecdsa-p256" // the default
	RSA2048   KeyType = "rsa-2048"
)

// Validity periods, as kubeadm uses them.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	LeafValidity = 365 * 24 * time.Hour
	// Backdate starts certificates a little in the past, for clocks that lag.
	Backdate = 5 * time.Minute
)

// Subjects kubeadm gives the etcd certificates. The server and peer certificates use
// the node name. kube-apiserver-etcd-client follows kubeadm 1.29 and later: no
// O=system:masters (etcd does not use the organization; older kubeadm set it).
const (
	CACommonName          = "etcd-ca"
	HealthcheckCommonName = "kube-etcd-healthcheck-client"
	APIServerCommonName   = "kube-apiserver-etcd-client"
)

// Errors Generate returns when it will not touch the CA on its own; match with errors.Is.
var (
	// ErrCAKeyMissing: certificates must be signed but the CA key is not there.
	ErrCAKeyMissing = errors.New("etcd CA key missing")
	// ErrCAUnusable: the CA certificate or key fails its checks.
	ErrCAUnusable = errors.New("etcd CA unusable")
)

// GenOptions tune Generate.
type GenOptions struct {
	// NodeName is the CN and a SAN of the server and peer certificates; etcd.yaml
	// --name when empty, else the host name.
	NodeName string
	// AdvertiseIP is a SAN of the server and peer certificates; when empty, the first
	// IP of --advertise-client-urls (a non-loopback one first), then of
	// --initial-advertise-peer-urls.
	AdvertiseIP string
	// ExtraSANs are more DNS names or IPs for the server and peer certificates.
	ExtraSANs []string
	// KeyType is ECDSAP256 when empty.
	KeyType KeyType
	// ReplaceCA makes a new etcd CA (and so re-issues every certificate). Without it
	// an existing CA is only ever used to sign.
	ReplaceCA bool
	// Renew names pairs to re-issue even though they pass (for example expiring soon).
	Renew []string
	// Now is the issue time; time.Now() when zero.
	Now time.Time
}

// Generated says what Generate planned.
type Generated struct {
	// Pairs are the pairs as the plan leaves them (a moved CA has its new paths; files
	// that were missing have Source "generated").
	Pairs []Pair
	// Issued names the pairs generated, in order ("ca" first when the CA is new).
	Issued []string
	// NewCA is true when the plan makes a new etcd CA.
	NewCA bool
	// Notes are things a person should know about the result.
	Notes []string
}

// Generate plans, the kubeadm way, every pair that is missing or fails a check (and
// those in o.Renew): an etcd CA when there is none (CN etcd-ca, 10 years), server and
// peer certificates (CN node name; SANs node name, localhost, advertise IP, 127.0.0.1,
// ::1 and every host of the client and peer URLs; serverAuth and clientAuth), the
// health-check client and kube-apiserver's etcd client (clientAuth), all for 1 year.
// Keys are planned as secret files (0600), certificates 0644, new folders 0700.
//
// An existing CA signs the new certificates. It is never replaced unless o.ReplaceCA:
// a CA that fails its checks gives ErrCAUnusable, and a missing CA key when something
// must be signed gives ErrCAKeyMissing. A replaced CA that was the Kubernetes CA is
// written to kubeadm's etcd layout instead, never over the cluster CA. Nothing is added
// to p when Generate returns an error.
func Generate(p *plan.Plan, s *discover.State, pairs []Pair, o GenOptions) (*Generated, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if o.KeyType == "" {
		o.KeyType = ECDSAP256
	}
	if o.KeyType != ECDSAP256 && o.KeyType != RSA2048 {
		return nil, fmt.Errorf("key type %q is not supported; choose %s or %s", o.KeyType, ECDSAP256, RSA2048)
	}
	g := &gen{p: p, s: s, o: o, now: now, out: &Generated{Pairs: slices.Clone(pairs)}}
	checks := ValidatePlan(p, s, g.out.Pairs, now)
	need := map[string]bool{}
	for _, c := range checks {
		if c.Status == Fail {
			need[c.Pair] = true
		}
	}
	for _, n := range o.Renew {
		if Find(pairs, n) == nil {
			return nil, fmt.Errorf("cannot renew %q: no such pair; choose one of ca, server, peer, healthcheck-client, apiserver-etcd-client", n)
		}
		need[n] = true
	}
	if err := g.names(); err != nil {
		return nil, err
	}
	ca := Find(g.out.Pairs, PairCA)
	if ca == nil {
		return nil, errors.New("no etcd CA pair given; pass the pairs Discover returns")
	}
	if err := g.signer(ca, checks, need); err != nil {
		return nil, err
	}
	// Plan on a copy so that an error leaves p untouched.
	work := &plan.Plan{Root: p.Root, Changes: cloneChanges(p.Changes)}
	g.p = work
	if g.out.NewCA {
		if err := g.newCA(ca); err != nil {
			return nil, err
		}
	}
	done := map[string]*Pair{}
	for i := range g.out.Pairs {
		pr := &g.out.Pairs[i]
		if pr.Role == RoleCA || !(need[pr.Name] || g.out.NewCA) {
			continue
		}
		if done[pr.Cert.Path] != nil {
			// server and peer sharing one file: one certificate serves both.
			continue
		}
		if err := g.leaf(pr); err != nil {
			return nil, err
		}
		done[pr.Cert.Path] = pr
	}
	p.Changes = work.Changes
	return g.out, nil
}

// gen carries one Generate call.
type gen struct {
	p      *plan.Plan
	s      *discover.State
	o      GenOptions
	now    time.Time
	out    *Generated
	caCert *x509.Certificate
	caKey  crypto.Signer
	node   string
	ip     net.IP
}

func cloneChanges(cs []*plan.Change) []*plan.Change {
	out := make([]*plan.Change, len(cs))
	for i, c := range cs {
		cc := *c
		cc.Reasons = slices.Clone(c.Reasons)
		out[i] = &cc
	}
	return out
}

// names settles the node name and advertise IP. Each may become a SAN, so each is
// checked (CheckName, CheckIP) wherever it comes from: the options (a flag, an
// answers file), etcd.yaml --name or the host name.
func (g *gen) names() error {
	g.node = g.o.NodeName
	from := "the node name"
	if g.node == "" && g.s.Etcd != nil {
		g.node, _ = g.s.Etcd.Flag("name")
		from = discover.EtcdFile + " --name"
	}
	if g.node == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("etcd.yaml has no --name and the host name is unknown (%v); give the node name", err)
		}
		g.node, from = h, "the host name"
	}
	if err := CheckName(g.node); err != nil {
		return fmt.Errorf("%s %w; it would be the CN and a DNS SAN of the server and peer certificates: give the node's name, e.g. cp1 or cp1.example.com", from, err)
	}
	if g.o.AdvertiseIP != "" {
		if err := CheckIP(g.o.AdvertiseIP); err != nil {
			return fmt.Errorf("advertise address %w; give the node's IP, e.g. 10.0.0.5", err)
		}
		g.ip = net.ParseIP(g.o.AdvertiseIP)
		return nil
	}
	if g.s.Etcd == nil {
		return nil
	}
	for _, flag := range []string{"advertise-client-urls", "initial-advertise-peer-urls"} {
		v, _ := g.s.Etcd.Flag(flag)
		var loop net.IP
		for _, h := range URLHosts(v) {
			ip := net.ParseIP(h)
			switch {
			case ip == nil:
			case ip.IsLoopback():
				if loop == nil {
					loop = ip
				}
			default:
				g.ip = ip
				return nil
			}
		}
		if loop != nil {
			g.ip = loop
			return nil
		}
	}
	return nil
}

// signer decides whether a new CA is needed and loads the existing one otherwise.
func (g *gen) signer(ca *Pair, checks []Check, need map[string]bool) error {
	read := planReader(g.p, g.s.Layout)
	cert, key := read(ca.Cert.Path), read(ca.Key.Path)
	certThere, keyThere := cert.err == nil, key.err == nil
	leaves := false
	for n, v := range need {
		leaves = leaves || (v && n != PairCA)
	}
	var caFails []string
	for _, c := range checks {
		if c.Pair == PairCA && c.Status == Fail {
			caFails = append(caFails, c.Message)
		}
	}
	switch {
	case g.o.ReplaceCA:
		g.out.NewCA = true
		return nil
	case !certThere && errors.Is(cert.err, fs.ErrNotExist) && !keyThere:
		g.out.NewCA = true
		return nil
	case !certThere && keyThere:
		return fmt.Errorf("the etcd CA certificate %s is missing but its key %s exists; etcd-harden never replaces a CA silently: put the certificate back, or let etcd-harden make a new etcd CA in certificates mode generate (a new CA re-issues every etcd certificate): %w",
			ca.Cert.Path, ca.Key.Path, ErrCAUnusable)
	case len(caFails) > 0:
		return fmt.Errorf("the etcd CA %s cannot be used: %s; etcd-harden never replaces a CA silently: fix it, or let etcd-harden make a new etcd CA in certificates mode generate (a new CA re-issues every etcd certificate): %w",
			ca.Cert.Path, strings.Join(caFails, "; "), ErrCAUnusable)
	case !leaves:
		return nil
	case !keyThere:
		return fmt.Errorf("can't sign new etcd certificates: the etcd CA key %s does not exist (the certificate %s does); give the CA key, or let etcd-harden make a new etcd CA in certificates mode generate (a new CA re-issues every etcd certificate): %w",
			ca.Key.Path, ca.Cert.Path, ErrCAKeyMissing)
	}
	certs, err := ParseCerts(cert.data)
	if err != nil {
		return fmt.Errorf("read the etcd CA %s: %w", ca.Cert.Path, err)
	}
	k, err := ParseKey(key.data)
	if err != nil {
		return fmt.Errorf("read the etcd CA key %s: %w", ca.Key.Path, err)
	}
	g.caCert, g.caKey = certs[0], k
	return nil
}

// newCA plans a new self-signed etcd CA.
func (g *gen) newCA(ca *Pair) error {
	for _, k8s := range KubernetesCAs(g.s) {
		if filepath.Clean(k8s) == filepath.Clean(ca.Cert.Path) || g.sameAsDisk(k8s, ca.Cert.Path) {
			// Never write over the cluster CA: the new etcd CA goes to kubeadm's place.
			certHost := filepath.Join(g.s.Layout.PKIDir, "ca.crt")
			keyHost := filepath.Join(g.s.Layout.PKIDir, "ca.key")
			ca.Cert = File{Path: certHost, ContainerPath: ContainerPath(g.s, g.s.Etcd, certHost), Source: SourceGenerated}
			ca.Key = File{Path: keyHost, ContainerPath: ContainerPath(g.s, g.s.Etcd, keyHost), Source: SourceGenerated}
			g.out.Notes = append(g.out.Notes, fmt.Sprintf("the etcd CA was the Kubernetes CA %s; the new etcd CA is %s (CIS 2.7)", k8s, certHost))
			break
		}
	}
	key, err := g.newKey()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: CACommonName},
		NotBefore:             g.now.Add(-Backdate).UTC(),
		NotAfter:              g.now.Add(CAValidity).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("create the etcd CA: %w", err)
	}
	g.caCert, _ = x509.ParseCertificate(der)
	g.caKey = key
	if err := g.write(ca, der, key, "certs: new etcd CA"); err != nil {
		return err
	}
	g.out.Issued = append(g.out.Issued, PairCA)
	g.out.Notes = append(g.out.Notes, "a new etcd CA re-issues every etcd certificate; other etcd members and clients must be given the new CA before they can connect")
	return nil
}

func (g *gen) sameAsDisk(a, b string) bool {
	sa, sb := readDisk(a), readDisk(b)
	return sa.err == nil && sb.err == nil && sameCert(sa.data, sb.data)
}

// leaf plans one certificate signed by the CA.
func (g *gen) leaf(pr *Pair) error {
	key, err := g.newKey()
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		NotBefore:    g.now.Add(-Backdate).UTC(),
		NotAfter:     g.now.Add(LeafValidity).UTC(),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	if tmpl.NotAfter.After(g.caCert.NotAfter) {
		tmpl.NotAfter = g.caCert.NotAfter
	}
	switch pr.Name {
	case PairServer, PairPeer:
		tmpl.Subject = pkix.Name{CommonName: g.node}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		if tmpl.DNSNames, tmpl.IPAddresses, err = g.sans(); err != nil {
			return err
		}
	case PairHealthcheck:
		tmpl.Subject = pkix.Name{CommonName: HealthcheckCommonName}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case PairAPIServer:
		tmpl.Subject = pkix.Name{CommonName: APIServerCommonName}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	default:
		return fmt.Errorf("cannot generate pair %q: unknown name", pr.Name)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, g.caCert, key.Public(), g.caKey)
	if err != nil {
		return fmt.Errorf("sign %s with the etcd CA %s: %w", pr.Cert.Path, g.caCert.Subject, err)
	}
	if err := g.write(pr, der, key, "certs: "+what(*pr)); err != nil {
		return err
	}
	g.out.Issued = append(g.out.Issued, pr.Name)
	return nil
}

// sans returns the DNS names and IPs of the server and peer certificates. Every
// host that comes from a file or an option is checked (CheckHost) first: a SAN is
// never made from a value that is not a DNS name or an IP.
func (g *gen) sans() ([]string, []net.IP, error) {
	var dns []string
	var ips []net.IP
	add := func(h string) {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if h != "" && !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	add(g.node)
	add("localhost")
	if g.ip != nil {
		add(g.ip.String())
	}
	add("127.0.0.1")
	add("::1")
	for _, h := range append(ServerHosts(g.s), PeerHosts(g.s)...) {
		if err := CheckHost(h.Name); err != nil {
			return nil, nil, fmt.Errorf("%s: the host %w; fix the URL (a DNS name or an IP)", h.From, err)
		}
		add(h.Name)
	}
	for _, h := range g.o.ExtraSANs {
		h = strings.TrimSpace(h)
		if err := CheckHost(h); err != nil {
			return nil, nil, fmt.Errorf("extra SAN %w; give a DNS name or an IP", err)
		}
		add(h)
	}
	return dns, ips, nil
}

// write plans the certificate (0644) and its key (secret, 0600) of pr, in 0700 folders.
func (g *gen) write(pr *Pair, der []byte, key crypto.Signer, reason string) error {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for _, f := range []struct {
		file   *File
		data   []byte
		mode   fs.FileMode
		secret bool
	}{{&pr.Cert, certPEM, 0o644, false}, {&pr.Key, keyPEM, 0o600, true}} {
		rel := g.s.Layout.Rel(f.file.Path)
		if err := g.p.Create(rel, f.data, f.mode, 0o700, f.secret, reason); err != nil {
			return fmt.Errorf("cannot plan %s under the root %s: %w", f.file.Path, g.s.Layout.Root, err)
		}
		if f.file.Source == SourceMissing {
			f.file.Source = SourceGenerated
		}
	}
	return nil
}

func (g *gen) newKey() (crypto.Signer, error) {
	if g.o.KeyType == RSA2048 {
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// encodeKey writes key as kubeadm does: SEC1 for ECDSA, PKCS#1 for RSA.
func encodeKey(key crypto.Signer) ([]byte, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	case *rsa.PrivateKey:
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
	}
	return nil, fmt.Errorf("unsupported key type %T", key)
}

// serial returns a random 128-bit serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return n.Add(n, big.NewInt(1))
}

// CAUnusable reports whether the checks found the etcd CA unusable for signing: a
// failing CA check, or its key missing. Mode "generate" then makes a new CA (ReplaceCA).
func CAUnusable(pairs []Pair, checks []Check) bool {
	ca := Find(pairs, PairCA)
	for _, c := range checks {
		if c.Pair != PairCA {
			continue
		}
		if c.Status == Fail || c.Name == CheckFile && ca != nil && c.Path == ca.Key.Path && c.Status != Pass {
			return true
		}
	}
	return false
}
