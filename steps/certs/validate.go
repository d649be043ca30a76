package certs

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Status is the outcome of one check.
type Status string

// Outcomes, from good to bad.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Names of the checks.
const (
	CheckFile     = "file"      // the file exists and can be read
	CheckPEM      = "pem"       // the certificate parses
	CheckKey      = "key"       // the key parses
	CheckKeyMatch = "key-match" // the key belongs to the certificate
	CheckChain    = "chain"     // the certificate verifies to the etcd CA
	CheckDates    = "dates"     // not before / not after, with 30 days' warning
	CheckSANs     = "sans"      // server and peer certificates cover every host they serve
	CheckUsage    = "usage"     // extended key usages fit the role
	CheckIsCA     = "is-ca"     // the CA is a CA
	CheckKeyMode  = "key-mode"  // the key is 0600 or stricter
	CheckOwner    = "owner"     // files belong to root (or to the user running etcd-harden)
	CheckCIS27    = "cis-2.7"   // the etcd CA is not the Kubernetes CA
	CheckCAFlags  = "ca-flags"  // every flag naming the etcd CA names the same one
)

// ExpiryWarning is how long before its end a certificate is reported as expiring.
const ExpiryWarning = 30 * 24 * time.Hour

// Check is the outcome of one named check on one file.
type Check struct {
	Name   string `json:"name"`
	Pair   string `json:"pair"`
	Role   Role   `json:"role"`
	Path   string `json:"path"`
	Status Status `json:"status"`
	// Message says what was found, naming the file, and for warn and fail ends with Fix.
	Message string `json:"message"`
	// Fix says what to do; empty for pass.
	Fix string `json:"fix,omitempty"`
}

// Validate checks every pair as the files are on disk now. The CA pair (Role CA) is the
// root that the others must chain to.
func Validate(s *discover.State, pairs []Pair, now time.Time) []Check {
	return validate(s, pairs, now, readDisk)
}

// ValidatePlan checks every pair as the files will be once p is applied (owners of
// planned files are not checked: Apply writes them as the running user).
func ValidatePlan(p *plan.Plan, s *discover.State, pairs []Pair, now time.Time) []Check {
	return validate(s, pairs, now, planReader(p, s.Layout))
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	return slices.ContainsFunc(checks, func(c Check) bool { return c.Status == Fail })
}

type validator struct {
	s     *discover.State
	now   time.Time
	read  reader
	ca    *Pair
	roots []*x509.Certificate // nil when the CA did not load
}

func validate(s *discover.State, pairs []Pair, now time.Time, read reader) []Check {
	v := &validator{s: s, now: now, read: read, ca: Find(pairs, PairCA)}
	var out []Check
	if v.ca != nil {
		out = append(out, v.pair(*v.ca)...)
	}
	for _, p := range pairs {
		if p.Role != RoleCA {
			out = append(out, v.pair(p)...)
		}
	}
	return out
}

// checks collects the checks of one pair.
type checks struct {
	p    Pair
	list []Check
}

func (c *checks) add(name, path string, st Status, msg, fix string) {
	if st != Pass && fix != "" {
		msg += "; " + fix
	}
	if st == Pass {
		fix = ""
	}
	c.list = append(c.list, Check{Name: name, Pair: c.p.Name, Role: c.p.Role, Path: path, Status: st, Message: msg, Fix: fix})
}

// what names a pair for messages: "etcd server certificate".
func what(p Pair) string {
	switch p.Name {
	case PairCA:
		return "etcd CA certificate"
	case PairServer:
		return "etcd server certificate"
	case PairPeer:
		return "etcd peer certificate"
	case PairHealthcheck:
		return "etcd health-check client certificate"
	case PairAPIServer:
		return "kube-apiserver's etcd client certificate"
	}
	return string(p.Role) + " certificate"
}

const (
	fixGenerate = "let the wizard generate one"
	fixNewPair  = "let the wizard generate a new pair"
)

func (v *validator) pair(p Pair) []Check {
	c := &checks{p: p}
	cf := v.read(p.Cert.Path)
	if !v.fileReadable(c, p.Cert, cf, what(p)) {
		return c.list
	}
	certs, err := ParseCerts(cf.data)
	if err != nil {
		c.add(CheckPEM, p.Cert.Path, Fail, fmt.Sprintf("%s is not a PEM certificate (%v)", p.Cert.Path, err),
			"replace it with the PEM certificate, or "+fixGenerate)
		if p.Role == RoleCA {
			return c.list
		}
	} else {
		c.add(CheckPEM, p.Cert.Path, Pass, fmt.Sprintf("%s parses (%s key, subject %s)", p.Cert.Path, keyKind(certs[0]), certs[0].Subject), "")
	}
	if p.Role == RoleCA && len(certs) > 0 {
		v.roots = certs
	}
	kf := v.read(p.Key.Path)
	if p.Role == RoleCA && errors.Is(kf.err, fs.ErrNotExist) {
		c.add(CheckFile, p.Key.Path, Warn, fmt.Sprintf("the etcd CA key %s does not exist, so this CA cannot sign new certificates", p.Key.Path),
			"choose the CA key if you keep it elsewhere, or let the wizard generate a new etcd CA (a new CA re-issues every etcd certificate)")
	} else if v.fileReadable(c, p.Key, kf, "key of the "+what(p)) {
		key, err := ParseKey(kf.data)
		switch {
		case err != nil:
			c.add(CheckKey, p.Key.Path, Fail, fmt.Sprintf("%s is not a usable private key (%v)", p.Key.Path, err),
				"replace it with the unencrypted PEM key of "+p.Cert.Display()+", or "+fixNewPair)
		case certs == nil:
			c.add(CheckKey, p.Key.Path, Pass, fmt.Sprintf("%s parses", p.Key.Path), "")
		case !KeyMatches(certs[0], key):
			c.add(CheckKeyMatch, p.Key.Path, Fail, fmt.Sprintf("%s is not the key of %s (their public keys differ)", p.Key.Path, p.Cert.Path),
				"choose the key made with this certificate, or "+fixNewPair)
		default:
			c.add(CheckKeyMatch, p.Key.Path, Pass, fmt.Sprintf("%s is the key of %s", p.Key.Path, p.Cert.Display()), "")
		}
		v.keyMode(c, p.Key.Path, kf)
	}
	v.owner(c, []File{p.Cert, p.Key}, []fileState{cf, kf})
	if certs == nil {
		return c.list
	}
	leaf := certs[0]
	v.dates(c, leaf)
	switch p.Role {
	case RoleCA:
		v.isCA(c, leaf)
		v.cis27(c, cf)
		v.caFlags(c)
	default:
		v.chain(c, certs)
		v.usage(c, leaf)
		if p.Role == RoleServer || p.Role == RolePeer {
			v.sans(c, leaf)
		}
	}
	return c.list
}

// fileReadable adds a failing check when f cannot be read, and reports whether it can.
func (v *validator) fileReadable(c *checks, f File, st fileState, desc string) bool {
	switch {
	case st.err == nil:
		return true
	case errors.Is(st.err, fs.ErrNotExist) && f.Source != SourceMissing && f.Source != SourceKubeadm && f.Source != SourceBeside:
		c.add(CheckFile, f.Path, Fail, fmt.Sprintf("%s points to %s, which does not exist", f.Source, f.Path),
			"choose another file or let the wizard generate one")
	case errors.Is(st.err, fs.ErrNotExist):
		c.add(CheckFile, f.Path, Fail, fmt.Sprintf("%s (the %s) does not exist", f.Path, desc),
			"let the wizard generate it, or choose an existing file")
	case errors.Is(st.err, errIsFolder), errors.Is(st.err, errNotRegular):
		c.add(CheckFile, f.Path, Fail, fmt.Sprintf("%s (the %s) %v; expected the %s file", f.Path, desc, st.err, desc),
			fmt.Sprintf("move %s out of the way (look inside first), then choose the real file or let the wizard generate one", f.Path))
	case errors.Is(st.err, fs.ErrPermission):
		c.add(CheckFile, f.Path, Fail, fmt.Sprintf("cannot read %s (the %s): %v", f.Path, desc, st.err),
			"run etcd-harden as root or fix the file's permissions")
	default:
		c.add(CheckFile, f.Path, Fail, fmt.Sprintf("cannot read %s (the %s): %v", f.Path, desc, st.err),
			"check the path and the disk, or choose another file")
	}
	return false
}

func (v *validator) keyMode(c *checks, path string, st fileState) {
	if st.mode&0o077 != 0 {
		c.add(CheckKeyMode, path, Warn, fmt.Sprintf("%s is readable or writable by group or others (mode %04o)", path, st.mode),
			fmt.Sprintf("chmod 600 %s", path))
		return
	}
	c.add(CheckKeyMode, path, Pass, fmt.Sprintf("%s has mode %04o", path, st.mode), "")
}

func (v *validator) owner(c *checks, files []File, states []fileState) {
	me := runningUID()
	var bad []string
	first := ""
	for i, st := range states {
		if st.err != nil || !st.hasUID || st.uid == 0 || st.uid == me {
			continue
		}
		if first == "" {
			first = files[i].Path
		}
		bad = append(bad, fmt.Sprintf("%s is owned by uid %d", files[i].Path, st.uid))
	}
	if len(bad) == 0 {
		return
	}
	c.add(CheckOwner, first, Warn, strings.Join(bad, ", ")+", not root",
		"chown root:root "+first+" (and its key or certificate)")
}

func (v *validator) dates(c *checks, leaf *x509.Certificate) {
	path := c.p.Cert.Path
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	left := leaf.NotAfter.Sub(v.now)
	switch {
	case v.now.Before(leaf.NotBefore):
		c.add(CheckDates, path, Fail, fmt.Sprintf("%s is not valid until %s (is the node's clock right?)", path, leaf.NotBefore.UTC().Format(time.RFC3339)),
			"check the node's clock, or "+fixGenerate)
	case v.now.After(leaf.NotAfter):
		c.add(CheckDates, path, Fail, fmt.Sprintf("%s expired on %s (%d days ago)", path, day(leaf.NotAfter), int(-left.Hours()/24)),
			"renew it: "+fixGenerate)
	case left < ExpiryWarning:
		c.add(CheckDates, path, Warn, fmt.Sprintf("%s expires on %s, in %d days", path, day(leaf.NotAfter), int(left.Hours()/24)),
			"renew it soon: "+fixGenerate)
	default:
		c.add(CheckDates, path, Pass, fmt.Sprintf("%s is valid until %s (%d days left)", path, day(leaf.NotAfter), int(left.Hours()/24)), "")
	}
}

func (v *validator) chain(c *checks, certs []*x509.Certificate) {
	path := c.p.Cert.Path
	caPath := "the etcd CA"
	if v.ca != nil {
		caPath = v.ca.Cert.Path
	}
	if v.roots == nil {
		c.add(CheckChain, path, Fail, fmt.Sprintf("cannot verify %s: %s did not load", path, caPath),
			"fix the CA first (see its checks), or let the wizard generate the etcd certificates")
		return
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, r := range v.roots {
		roots.AddCert(r)
	}
	for _, i := range certs[1:] {
		inter.AddCert(i)
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: v.now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	_, err := certs[0].Verify(opts)
	var invalid x509.CertificateInvalidError
	if errors.As(err, &invalid) && invalid.Reason == x509.Expired {
		// Dates are their own check: verify the signatures at a time both were valid.
		opts.CurrentTime = latest(certs[0].NotBefore, v.roots[0].NotBefore).Add(time.Second)
		_, err = certs[0].Verify(opts)
	}
	var unknown x509.UnknownAuthorityError
	switch {
	case err == nil:
		c.add(CheckChain, path, Pass, fmt.Sprintf("%s is signed by the etcd CA %s", path, filepath.Base(caPath)), "")
	case errors.As(err, &unknown):
		c.add(CheckChain, path, Fail, fmt.Sprintf("%s is not signed by the etcd CA %s (it was issued by %q)", path, caPath, certs[0].Issuer.String()),
			"regenerate it with that CA, or "+fixGenerate)
	default:
		c.add(CheckChain, path, Fail, fmt.Sprintf("%s does not verify to the etcd CA %s: %v", path, caPath, err),
			"regenerate it with that CA, or "+fixGenerate)
	}
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// roleUsages are the extended key usages each role needs.
var roleUsages = map[Role][]x509.ExtKeyUsage{
	RoleServer: {x509.ExtKeyUsageServerAuth},
	RolePeer:   {x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	RoleClient: {x509.ExtKeyUsageClientAuth},
}

var usageNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageServerAuth: "serverAuth",
	x509.ExtKeyUsageClientAuth: "clientAuth",
	x509.ExtKeyUsageAny:        "any",
}

func usageList(us []x509.ExtKeyUsage) string {
	if len(us) == 0 {
		return "none"
	}
	if len(us) == 2 {
		return usageName(us[0]) + " and " + usageName(us[1])
	}
	var names []string
	for _, u := range us {
		names = append(names, usageName(u))
	}
	return strings.Join(names, ", ")
}

func usageName(u x509.ExtKeyUsage) string {
	if n, ok := usageNames[u]; ok {
		return n
	}
	return fmt.Sprintf("usage %d", u)
}

func (v *validator) usage(c *checks, leaf *x509.Certificate) {
	path := c.p.Cert.Path
	has := leaf.ExtKeyUsage
	if len(has) == 0 || slices.Contains(has, x509.ExtKeyUsageAny) {
		c.add(CheckUsage, path, Pass, fmt.Sprintf("%s allows any use (extended key usages: %s)", path, usageList(has)), "")
		return
	}
	need := roleUsages[c.p.Role]
	var missing []x509.ExtKeyUsage
	for _, u := range need {
		if !slices.Contains(has, u) {
			missing = append(missing, u)
		}
	}
	if len(missing) > 0 {
		c.add(CheckUsage, path, Fail, fmt.Sprintf("%s lacks the %s extended key usage a %s certificate needs (it has %s)", path, usageList(missing), c.p.Role, usageList(has)),
			fmt.Sprintf("regenerate it with %s, or %s", usageList(need), fixGenerate))
		return
	}
	if c.p.Role == RoleServer && !slices.Contains(has, x509.ExtKeyUsageClientAuth) {
		c.add(CheckUsage, path, Warn, fmt.Sprintf("%s has serverAuth but not clientAuth; with --client-cert-auth etcd's own gRPC gateway connects to itself with this certificate and is refused", path),
			"regenerate it with serverAuth and clientAuth as kubeadm does, or "+fixGenerate)
		return
	}
	c.add(CheckUsage, path, Pass, fmt.Sprintf("%s has the usages a %s certificate needs (%s)", path, c.p.Role, usageList(has)), "")
}

func (v *validator) sans(c *checks, leaf *x509.Certificate) {
	path := c.p.Cert.Path
	hosts := ServerHosts(v.s)
	if c.p.Role == RolePeer {
		hosts = PeerHosts(v.s)
	}
	var fails, warns []Host
	for _, h := range hosts {
		if leaf.VerifyHostname(h.Name) == nil {
			continue
		}
		if h.Required {
			fails = append(fails, h)
		} else {
			warns = append(warns, h)
		}
	}
	describe := func(hs []Host) string {
		var parts []string
		for _, h := range hs {
			parts = append(parts, h.Name+" from "+h.From)
		}
		return strings.Join(parts, ", ")
	}
	switch {
	case len(fails) > 0:
		c.add(CheckSANs, path, Fail, fmt.Sprintf("%s does not cover %s", path, describe(fails)),
			"regenerate it with that SAN or "+fixGenerate)
	case len(warns) > 0:
		c.add(CheckSANs, path, Warn, fmt.Sprintf("%s does not cover %s", path, describe(warns)),
			"regenerate it with that SAN or "+fixGenerate)
	default:
		var names []string
		for _, h := range hosts {
			names = append(names, h.Name)
		}
		c.add(CheckSANs, path, Pass, fmt.Sprintf("%s covers %s", path, strings.Join(names, ", ")), "")
	}
}

func (v *validator) isCA(c *checks, ca *x509.Certificate) {
	path := c.p.Cert.Path
	var lacks []string
	if !ca.BasicConstraintsValid {
		lacks = append(lacks, "no basic constraints")
	}
	if !ca.IsCA {
		lacks = append(lacks, "CA:FALSE")
	}
	if ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		lacks = append(lacks, "no keyCertSign key usage")
	}
	if len(lacks) > 0 {
		c.add(CheckIsCA, path, Fail, fmt.Sprintf("%s is not a CA certificate (%s)", path, strings.Join(lacks, ", ")),
			"point --trusted-ca-file at the etcd CA, or let the wizard make a new etcd CA")
		return
	}
	c.add(CheckIsCA, path, Pass, fmt.Sprintf("%s is a CA (%s)", path, ca.Subject), "")
}

// KubernetesCAs returns the host paths of the cluster CA: kubeadm's
// <root>/etc/kubernetes/pki/ca.crt and the apiserver's --client-ca-file.
func KubernetesCAs(s *discover.State) []string {
	out := []string{s.Layout.Host("/etc/kubernetes/pki/ca.crt")}
	if s.APIServer != nil {
		if v, ok := s.APIServer.Flag("client-ca-file"); ok && v != "" {
			if h := s.HostFile(s.APIServer, v); !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

func (v *validator) cis27(c *checks, ca fileState) {
	path := c.p.Cert.Path
	for _, k8s := range KubernetesCAs(v.s) {
		same := filepath.Clean(k8s) == filepath.Clean(path)
		if !same {
			st := v.read(k8s)
			same = st.err == nil && sameCert(st.data, ca.data)
		}
		if same {
			c.add(CheckCIS27, path, Warn, fmt.Sprintf("the etcd CA %s is the Kubernetes CA %s, so every certificate the cluster CA signs can reach etcd (CIS 2.7)", path, k8s),
				"use a dedicated etcd CA: let the wizard generate one, which re-issues the etcd certificates")
			return
		}
	}
	c.add(CheckCIS27, path, Pass, fmt.Sprintf("the etcd CA %s is not the Kubernetes CA (CIS 2.7)", filepath.Base(path)), "")
}

// sameCert reports whether two PEM files hold the same first certificate.
func sameCert(a, b []byte) bool {
	ca, err1 := ParseCerts(a)
	cb, err2 := ParseCerts(b)
	if err1 != nil || err2 != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca[0].Raw, cb[0].Raw)
}

// caFlags warns when the flags that name the etcd CA name different files.
func (v *validator) caFlags(c *checks) {
	type named struct{ src, path string }
	var all []named
	add := func(m *discover.Manifest, file, flag string) {
		if m == nil {
			return
		}
		if val, ok := m.Flag(flag); ok && val != "" {
			all = append(all, named{file + " --" + flag, v.s.HostFile(m, val)})
		}
	}
	add(v.s.Etcd, discover.EtcdFile, "trusted-ca-file")
	add(v.s.Etcd, discover.EtcdFile, "peer-trusted-ca-file")
	add(v.s.APIServer, discover.APIServerFile, "etcd-cafile")
	var odd []string
	for _, n := range all {
		if filepath.Clean(n.path) == filepath.Clean(c.p.Cert.Path) {
			continue
		}
		if st := v.read(n.path); st.err == nil {
			if ca := v.read(c.p.Cert.Path); ca.err == nil && sameCert(st.data, ca.data) {
				continue
			}
		}
		odd = append(odd, fmt.Sprintf("%s names %s", n.src, n.path))
	}
	if len(odd) > 0 {
		c.add(CheckCAFlags, c.p.Cert.Path, Warn, fmt.Sprintf("the etcd CA is %s but %s", c.p.Cert.Path, strings.Join(odd, ", ")),
			"let the wizard point every CA flag at "+c.p.Cert.Display())
	}
}
