// Package audit runs the CIS Kubernetes Benchmark 1.12 checks that can be read from the
// files on a control-plane node (the etcd and kube-apiserver static pod manifests, the
// encryption config, file modes) over a discovered State. It changes nothing.
package audit

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// Status is the outcome of one check.
type Status string

// Outcomes of a check: Warn is something a person should look at that the benchmark
// does not count as a failure (or could not be checked).
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is the result of one CIS check.
type Check struct {
	ID     string `json:"id"`     // CIS number, e.g. "2.1"
	Title  string `json:"title"`  // the benchmark's wording, as kube-bench has it
	Status Status `json:"status"` // pass, warn or fail
	Detail string `json:"detail"` // what was found
	Fix    string `json:"fix"`    // what to do; "" on pass
	Target string `json:"target"` // the host path of the file the check reads
}

// Options tune a Run.
type Options struct {
	// IDs limits the run to these check IDs ("2.1", "1.2.28"); empty runs them all.
	IDs []string
}

// Failed reports whether any check failed.
func Failed(checks []Check) bool {
	return slices.ContainsFunc(checks, func(c Check) bool { return c.Status == Fail })
}

// Count returns how many checks have each status.
func Count(checks []Check) map[Status]int {
	n := map[Status]int{}
	for _, c := range checks {
		n[c.Status]++
	}
	return n
}

// check is one entry of the benchmark: its ID, title and the function that runs it.
type check struct {
	id, title string
	run       func(*auditor) result
}

// result is what a check function finds; Run adds ID and title.
type result struct {
	status              Status
	detail, fix, target string
}

// checks in benchmark order; titles are kube-bench's cfg/cis-1.12 texts.
var checks = []check{
	{"1.1.7", "Ensure that the etcd pod specification file permissions are set to 600 or more restrictive (Automated)", (*auditor).manifestMode},
	{"1.1.11", "Ensure that the etcd data directory permissions are set to 700 or more restrictive (Automated)", (*auditor).dataDirMode},
	{"1.2.23", "Ensure that the --etcd-certfile and --etcd-keyfile arguments are set as appropriate (Automated)", (*auditor).apiEtcdCert},
	{"1.2.26", "Ensure that the --etcd-cafile argument is set as appropriate (Automated)", (*auditor).apiEtcdCA},
	{"1.2.27", "Ensure that the --encryption-provider-config argument is set as appropriate (Manual)", (*auditor).encryptionFlag},
	{"1.2.28", "Ensure that encryption providers are appropriately configured (Manual)", (*auditor).encryptionProviders},
	{"2.1", "Ensure that the --cert-file and --key-file arguments are set as appropriate (Automated)", (*auditor).certFile},
	{"2.2", "Ensure that the --client-cert-auth argument is set to true (Automated)", (*auditor).clientCertAuth},
	{"2.3", "Ensure that the --auto-tls argument is not set to true (Automated)", (*auditor).autoTLS},
	{"2.4", "Ensure that the --peer-cert-file and --peer-key-file arguments are set as appropriate (Automated)", (*auditor).peerCertFile},
	{"2.5", "Ensure that the --peer-client-cert-auth argument is set to true (Automated)", (*auditor).peerClientCertAuth},
	{"2.6", "Ensure that the --peer-auto-tls argument is not set to true (Automated)", (*auditor).peerAutoTLS},
	{"2.7", "Ensure that a unique Certificate Authority is used for etcd (Manual)", (*auditor).uniqueCA},
}

// IDs returns the IDs of every check Run knows, in the order it runs them.
func IDs() []string {
	ids := make([]string, len(checks))
	for i, c := range checks {
		ids[i] = c.id
	}
	return ids
}

// Run runs the checks over s and returns them in benchmark order. It only reads files.
// Checks on kube-apiserver warn "not found" when s.APIServer is nil.
func Run(s *discover.State, opts Options) []Check {
	a := &auditor{s: s}
	var out []Check
	for _, c := range checks {
		if len(opts.IDs) > 0 && !slices.Contains(opts.IDs, c.id) {
			continue
		}
		r := c.run(a)
		if r.status == Pass {
			r.fix = ""
		}
		out = append(out, Check{ID: c.id, Title: c.title, Status: r.status, Detail: r.detail, Fix: r.fix, Target: r.target})
	}
	if len(opts.IDs) == 0 || slices.Contains(opts.IDs, IDDuplicateFlags) {
		out = append(out, duplicateFlags(s)...)
	}
	return out
}

// IDDuplicateFlags is the ID of the finding, outside the benchmark, that a manifest
// gives a flag more than once. Run reports it only when it finds one.
const IDDuplicateFlags = "flags"

// duplicateFlags warns, in one finding, about every flag a manifest gives more than
// once: the binary uses the last one, which may not be the one a reader (or a CIS
// scanner) sees first.
func duplicateFlags(s *discover.State) []Check {
	var details, fixes []string
	target := ""
	for _, m := range []*discover.Manifest{s.Etcd, s.APIServer} {
		if m == nil {
			continue
		}
		for _, d := range m.Duplicates() {
			details = append(details, d.Describe(m))
			fixes = append(fixes, fmt.Sprintf("In %s keep one --%s, the value you mean", m.Path, d.Name))
			if target == "" {
				target = m.Path
			}
		}
	}
	if len(details) == 0 {
		return nil
	}
	return []Check{{
		ID: IDDuplicateFlags, Title: "Each flag is given once in the static pod manifests", Status: Warn,
		Detail: strings.Join(details, "; "),
		Fix:    strings.Join(fixes, "; "),
		Target: target,
	}}
}

// auditor holds the state the checks read.
type auditor struct {
	s *discover.State
}

// etcd returns the value of an etcd setting: the flag, else its ETCD_* environment
// variable (etcd reads both; the flag wins).
func (a *auditor) etcd(flag string) (value string, ok bool, from string) {
	if v, ok := a.s.Etcd.Flag(flag); ok {
		return v, true, "--" + flag
	}
	env := "ETCD_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
	if v, ok := a.s.Etcd.Env(env); ok {
		return v, true, env
	}
	return "", false, "--" + flag
}

// etcdTrue reports whether a boolean etcd setting is true (a bare flag is true).
func (a *auditor) etcdTrue(flag string) (isTrue, set bool, raw string) {
	v, ok, _ := a.etcd(flag)
	if !ok {
		return false, false, ""
	}
	if v == "" {
		return true, true, "true"
	}
	b, err := strconv.ParseBool(v)
	return err == nil && b, true, v
}

// pki returns the node path of a file in the etcd PKI folder, for fixes.
func (a *auditor) pki(name string) string {
	rel := a.s.Layout.Rel(a.s.Layout.PKIDir)
	if strings.HasPrefix(rel, "/") {
		return filepath.ToSlash(filepath.Join(rel, name))
	}
	return "/" + rel + "/" + name
}

// httpURLs returns the http:// URLs in the named etcd/apiserver URL-list flags, as
// "--flag: url" strings.
func httpURLs(m *discover.Manifest, flags ...string) []string {
	var out []string
	for _, f := range flags {
		v, _ := m.Flag(f)
		for u := range strings.SplitSeq(v, ",") {
			if u = strings.TrimSpace(u); strings.HasPrefix(strings.ToLower(u), "http://") {
				out = append(out, "--"+f+"="+u)
			}
		}
	}
	return out
}

// certPair checks that two file settings are set (and, for the client side, that no
// client URL is plain http).
func (a *auditor) certPair(certFlag, keyFlag string, urlFlags []string, fix string) result {
	m := a.s.Etcd
	var missing, found []string
	for _, f := range []string{certFlag, keyFlag} {
		v, ok, from := a.etcd(f)
		if !ok || v == "" {
			missing = append(missing, "--"+f+" is not set")
		} else {
			found = append(found, from+"="+v)
		}
	}
	plain := httpURLs(m, urlFlags...)
	if len(missing) == 0 && len(plain) == 0 {
		return result{status: Pass, detail: strings.Join(found, ", "), target: m.Path}
	}
	detail := missing
	if len(plain) > 0 {
		detail = append(detail, "plain http (no TLS): "+strings.Join(plain, ", "))
	}
	return result{status: Fail, detail: strings.Join(detail, "; "), fix: fix, target: m.Path}
}

func (a *auditor) certFile() result {
	return a.certPair("cert-file", "key-file", []string{"listen-client-urls", "advertise-client-urls"},
		fmt.Sprintf("In %s set --cert-file=%s and --key-file=%s, and use https:// in --listen-client-urls and --advertise-client-urls (the certs step does this)",
			a.s.Etcd.Path, a.pki("server.crt"), a.pki("server.key")))
}

func (a *auditor) peerCertFile() result {
	return a.certPair("peer-cert-file", "peer-key-file", []string{"listen-peer-urls", "initial-advertise-peer-urls"},
		fmt.Sprintf("In %s set --peer-cert-file=%s and --peer-key-file=%s, and use https:// in --listen-peer-urls, --initial-advertise-peer-urls and --initial-cluster (the certs step does this)",
			a.s.Etcd.Path, a.pki("peer.crt"), a.pki("peer.key")))
}

func (a *auditor) mustBeTrue(flag, why string) result {
	m := a.s.Etcd
	isTrue, set, raw := a.etcdTrue(flag)
	fix := fmt.Sprintf("In %s set --%s=true", m.Path, flag)
	switch {
	case isTrue:
		return result{status: Pass, detail: "--" + flag + "=true", target: m.Path}
	case !set:
		return result{status: Fail, detail: "--" + flag + " is not set: " + why, fix: fix, target: m.Path}
	default:
		return result{status: Fail, detail: fmt.Sprintf("--%s=%s: %s", flag, raw, why), fix: fix, target: m.Path}
	}
}

func (a *auditor) clientCertAuth() result {
	return a.mustBeTrue("client-cert-auth", "etcd serves any client that can reach it, without a certificate")
}

func (a *auditor) peerClientCertAuth() result {
	return a.mustBeTrue("peer-client-cert-auth", "etcd accepts peers without a certificate")
}

func (a *auditor) mustNotBeTrue(flag, why string) result {
	m := a.s.Etcd
	isTrue, set, raw := a.etcdTrue(flag)
	switch {
	case isTrue:
		return result{status: Fail, detail: "--" + flag + "=true: " + why,
			fix: fmt.Sprintf("In %s remove --%s (or set it to false) and give etcd real certificates", m.Path, flag), target: m.Path}
	case !set:
		return result{status: Pass, detail: "--" + flag + " is not set", target: m.Path}
	default:
		return result{status: Pass, detail: "--" + flag + "=" + raw, target: m.Path}
	}
}

func (a *auditor) autoTLS() result {
	return a.mustNotBeTrue("auto-tls", "etcd serves clients with a self-signed certificate that nobody can verify")
}

func (a *auditor) peerAutoTLS() result {
	return a.mustNotBeTrue("peer-auto-tls", "etcd talks to peers with self-signed certificates that nobody can verify")
}

// apiNotFound is the result of a kube-apiserver check on a node without its manifest.
func (a *auditor) apiNotFound() result {
	dir := a.s.Layout.ManifestsDir
	return result{status: Warn, detail: discover.APIServerFile + " not found in " + dir + ": not checked",
		target: filepath.Join(dir, discover.APIServerFile)}
}

func (a *auditor) apiEtcdCert() result {
	m := a.s.APIServer
	if m == nil {
		return a.apiNotFound()
	}
	var missing, found []string
	for _, f := range []string{"etcd-certfile", "etcd-keyfile"} {
		if v, ok := m.Flag(f); ok && v != "" {
			found = append(found, "--"+f+"="+v)
		} else {
			missing = append(missing, "--"+f+" is not set")
		}
	}
	plain := httpURLs(m, "etcd-servers")
	if len(missing) == 0 && len(plain) == 0 {
		return result{status: Pass, detail: strings.Join(found, ", "), target: m.Path}
	}
	if len(plain) > 0 {
		missing = append(missing, "plain http to etcd: "+strings.Join(plain, ", "))
	}
	return result{status: Fail, detail: strings.Join(missing, "; "), target: m.Path,
		fix: fmt.Sprintf("In %s set --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt and --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key (a client certificate etcd's CA signed) and use https:// in --etcd-servers", m.Path)}
}

func (a *auditor) apiEtcdCA() result {
	m := a.s.APIServer
	if m == nil {
		return a.apiNotFound()
	}
	if v, ok := m.Flag("etcd-cafile"); ok && v != "" {
		return result{status: Pass, detail: "--etcd-cafile=" + v, target: m.Path}
	}
	return result{status: Fail, detail: "--etcd-cafile is not set: kube-apiserver does not verify etcd's certificate", target: m.Path,
		fix: fmt.Sprintf("In %s set --etcd-cafile=%s", m.Path, a.pki("ca.crt"))}
}

func (a *auditor) encryptionFlag() result {
	m := a.s.APIServer
	if m == nil {
		return a.apiNotFound()
	}
	if v, ok := m.Flag("encryption-provider-config"); ok && v != "" {
		return result{status: Pass, detail: "--encryption-provider-config=" + v, target: m.Path}
	}
	return result{status: Fail, detail: "--encryption-provider-config is not set: Secrets are stored in etcd in plain text", target: m.Path,
		fix: fmt.Sprintf("Run the encryption step, or write an EncryptionConfiguration file and set --encryption-provider-config to it in %s (with a hostPath volume and mount for the file)", m.Path)}
}
