package lab

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// Ids of the goals a scenario can grade.
const (
	GoalEtcdRuns             = "etcd-runs"
	GoalFlagPlacement        = "flag-placement"
	GoalClientTLS            = "client-tls"
	GoalPeerTLS              = "peer-tls"
	GoalAPIServerReaches     = "apiserver-reaches-etcd"
	GoalSecretsEncrypted     = "secrets-encrypted"
	GoalStrongProvider       = "strong-provider"
	GoalSecretsCurrentKey    = "secrets-current-key"
	GoalOldKeyRemoved        = "old-key-removed"
	GoalCertsValid           = "certs-valid"
	GoalSANs                 = "server-sans"
	GoalUnchanged            = "nothing-else-changed"
	GoalSnapshot             = "snapshot"
	GoalSnapshotAfterRewrite = "snapshot-after-rewrite"
	GoalBackupOutsideDataDir = "data-dir-clean"
)

// goal is one thing `lab check` grades: check says whether it holds and what it saw.
type goal struct {
	title string
	check func(ctx context.Context, g *grader) (bool, string)
}

var goals = map[string]goal{
	GoalEtcdRuns:             {"etcd starts from etcd.yaml and answers", etcdRuns},
	GoalFlagPlacement:        {"--encryption-provider-config is on kube-apiserver (mounted, a config it accepts), not on etcd", flagPlacement},
	GoalClientTLS:            {"etcd serves clients over mutual TLS only: a client without a certificate is refused", clientTLS},
	GoalPeerTLS:              {"etcd's peers speak mutual TLS", peerTLS},
	GoalAPIServerReaches:     {"kube-apiserver reaches etcd over TLS with its client pair, dialling the address it is given", apiServerReaches},
	GoalSecretsEncrypted:     {"every Secret in etcd is encrypted with a key the config has", secretsEncrypted},
	GoalStrongProvider:       {"kube-apiserver writes Secrets with secretbox or KMS v2", strongProvider},
	GoalSecretsCurrentKey:    {"every Secret is under the new key kube-apiserver writes with", secretsCurrentKey},
	GoalOldKeyRemoved:        {"the old key is gone from the encryption config", oldKeyRemoved},
	GoalCertsValid:           {"the server and peer certificates pass their checks with more than 30 days left", certsValid},
	GoalSANs:                 {"the server certificate names every address clients dial", serverSANs},
	GoalUnchanged:            {"nothing else changed: the etcd CA, the manifests' flags, the encryption config", unchanged},
	GoalSnapshot:             {"a verified snapshot exists outside etcd's data dir", snapshotGoal(false)},
	GoalSnapshotAfterRewrite: {"a verified snapshot taken after every Secret was rewritten exists outside etcd's data dir", snapshotGoal(true)},
	GoalBackupOutsideDataDir: {"etcd's data dir holds only etcd's own files (no backups inside it)", dataDirClean},
}

func goalTitle(id string) string { return goals[id].title }

func etcdRuns(ctx context.Context, g *grader) (bool, string) {
	if g.opts.EtcdDown != nil {
		msg := g.opts.EtcdDown.Error()
		if line := lastWords(g.root); line != "" {
			msg += "; etcd's own last words: " + line
		}
		return false, msg
	}
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	pr := newProbe(g.root, g.st.Etcd)
	if err := pr.check(ctx); err != nil {
		msg := fmt.Sprintf("etcd does not answer on %s", pr.endpoint)
		if st, err := ReadState(g.root); err == nil && st.Stopped.IsZero() && st.EtcdPod.Restarts > 0 {
			msg += fmt.Sprintf("; the lab's kubelet restarted it %s since etcd.yaml last changed (CrashLoopBackOff)", times(st.EtcdPod.Restarts))
		}
		if line := lastWords(g.root); line != "" {
			msg += "; etcd's own last words: " + line
		}
		return false, msg
	}
	return true, "etcd answers on " + pr.endpoint
}

func flagPlacement(_ context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	if v, ok := g.st.Etcd.Flag(encryption.ConfigFlag); ok {
		return false, fmt.Sprintf("etcd.yaml still sets --%s=%s: etcd does not know the flag and refuses to start", encryption.ConfigFlag, v)
	}
	cur, err := g.config()
	switch {
	case err != nil:
		return false, err.Error()
	case cur == nil:
		return false, "kube-apiserver.yaml has no --" + encryption.ConfigFlag + ": Secrets are written in plaintext"
	case !cur.Mounted:
		return false, fmt.Sprintf("kube-apiserver.yaml --%s=%s is on no hostPath volume: kube-apiserver cannot read it", encryption.ConfigFlag, cur.ContainerPath)
	case cur.Missing:
		return false, fmt.Sprintf("kube-apiserver.yaml --%s=%s names %s, which does not exist", encryption.ConfigFlag, cur.ContainerPath, cur.HostPath)
	}
	return true, fmt.Sprintf("etcd.yaml has no --%s; kube-apiserver.yaml has --%s=%s (mounted): %s", encryption.ConfigFlag, encryption.ConfigFlag, cur.ContainerPath, cur.Config.Summary())
}

func clientTLS(ctx context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	m := g.st.Etcd
	urls, _ := m.Flag("listen-client-urls")
	if u := firstNot(urls, "https://"); u != "" {
		return false, fmt.Sprintf("etcd.yaml --listen-client-urls has %s: clients reach etcd without TLS", u)
	}
	if v, _ := m.Flag("client-cert-auth"); v != "true" {
		return false, "etcd.yaml has no --client-cert-auth=true: etcd serves any TLS client, with or without a certificate"
	}
	if g.opts.EtcdDown != nil {
		return false, "etcd.yaml asks for it, but etcd could not be asked: " + g.opts.EtcdDown.Error()
	}
	endpoint := clientURL(m)
	err := health(ctx, httpClient(&tls.Config{InsecureSkipVerify: true}), endpoint)
	var op *net.OpError
	switch {
	case err == nil:
		return false, fmt.Sprintf("etcd at %s answered a client without a certificate", endpoint)
	case !errors.As(err, &op) || op.Op != "remote error":
		return false, fmt.Sprintf("etcd at %s did not answer: %v", endpoint, err)
	}
	refusal := err.Error()
	if u, perr := url.Parse(endpoint); perr == nil {
		if health(ctx, httpClient(nil), "http://"+u.Host) == nil {
			return false, fmt.Sprintf("etcd answers plain http on %s", u.Host)
		}
	}
	return true, fmt.Sprintf("etcd.yaml: https only, --client-cert-auth=true; etcd at %s refused a client without a certificate (%s)", endpoint, refusal[strings.LastIndex(refusal, ": ")+2:])
}

func peerTLS(ctx context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	m := g.st.Etcd
	for _, f := range []string{"listen-peer-urls", "initial-advertise-peer-urls"} {
		v, _ := m.Flag(f)
		if u := firstNot(v, "https://"); u != "" {
			return false, fmt.Sprintf("etcd.yaml --%s has %s: peers talk without TLS", f, u)
		}
	}
	for _, f := range []string{"peer-cert-file", "peer-key-file", "peer-trusted-ca-file"} {
		if v, _ := m.Flag(f); v == "" {
			return false, "etcd.yaml has no --" + f
		}
	}
	if v, _ := m.Flag("peer-client-cert-auth"); v != "true" {
		return false, "etcd.yaml has no --peer-client-cert-auth=true: any TLS peer may join"
	}
	conn, err := g.etcd(ctx)
	if err != nil {
		return false, "etcd.yaml asks for it, but etcd could not be asked: " + errText(err)
	}
	cli, err := conn.Client(ctx)
	if err != nil {
		return false, errText(err)
	}
	defer cli.Close()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		return false, "member list: " + err.Error()
	}
	var seen []string
	for _, mem := range resp.Members {
		for _, u := range mem.PeerURLs {
			if !strings.HasPrefix(u, "https://") {
				return false, fmt.Sprintf("member %s advertises peer URL %s", mem.Name, u)
			}
		}
		seen = append(seen, mem.Name+" "+strings.Join(mem.PeerURLs, ","))
	}
	return true, "etcd.yaml: peer https with --peer-client-cert-auth=true; members: " + strings.Join(seen, "; ")
}

func apiServerReaches(ctx context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	api := g.st.APIServer
	if api == nil {
		return false, "there is no kube-apiserver.yaml"
	}
	servers, _ := api.Flag("etcd-servers")
	if u := firstNot(servers, "https://"); u != "" {
		return false, fmt.Sprintf("kube-apiserver.yaml --etcd-servers has %s: kube-apiserver talks to etcd without TLS", u)
	}
	_, ca, _, _ := api.FlagPath("etcd-cafile")
	_, cert, okC, _ := api.FlagPath("etcd-certfile")
	_, key, okK, _ := api.FlagPath("etcd-keyfile")
	if !okC || !okK {
		return false, "kube-apiserver.yaml has no --etcd-certfile and --etcd-keyfile: kube-apiserver has no client pair for etcd"
	}
	if g.opts.EtcdDown != nil {
		return false, g.opts.EtcdDown.Error()
	}
	conn := etcdconn.FromFlags(strings.Split(servers, ","), ca, cert, key)
	if err := conn.Check(ctx); err != nil {
		return false, "with kube-apiserver's --etcd-* files: " + errText(err)
	}
	return true, fmt.Sprintf("kube-apiserver's client pair reaches etcd at %s over TLS", servers)
}

func secretsEncrypted(ctx context.Context, g *grader) (bool, string) {
	rep, err := g.secrets(ctx)
	switch {
	case err != nil:
		return false, errText(err)
	case rep.Total == 0:
		return false, "etcd holds no Secrets"
	case rep.Plaintext > 0:
		return false, fmt.Sprintf("%d of %d Secrets in plaintext, e.g. %s", rep.Plaintext, rep.Total, rep.PlaintextKeys[0])
	case rep.Unknown > 0:
		return false, fmt.Sprintf("%d of %d Secrets in a form neither plaintext nor a known provider's", rep.Unknown, rep.Total)
	case !rep.ConfigChecked:
		return false, fmt.Sprintf("%d Secrets (%s), but kube-apiserver.yaml names no encryption config that reads them", rep.Total, keyCounts(rep))
	case len(rep.MissingKeys) > 0:
		return false, fmt.Sprintf("Secrets under keys the config lacks, which kube-apiserver cannot read: %s", strings.Join(rep.MissingKeys, ", "))
	}
	return true, fmt.Sprintf("%d Secrets, all encrypted: %s", rep.Total, keyCounts(rep))
}

// writeKey is the provider and key id kube-apiserver writes Secrets with.
func (g *grader) writeKey() (encryption.ProviderRef, string, error) {
	cur, err := g.config()
	switch {
	case err != nil:
		return encryption.ProviderRef{}, "", err
	case cur == nil || cur.Config == nil:
		return encryption.ProviderRef{}, "", errors.New("kube-apiserver.yaml names no encryption config: Secrets are written in plaintext")
	}
	i := cur.Config.Lookup("secrets")
	if i < 0 || len(cur.Config.Entries()[i].Providers) == 0 {
		return encryption.ProviderRef{}, "", fmt.Errorf("%s covers no secrets: they are written in plaintext", cur.HostPath)
	}
	p := cur.Config.Entries()[i].Providers[0]
	ids := p.KeyIDs()
	if len(ids) == 0 {
		return p, "", fmt.Errorf("the first provider for secrets in %s is identity: Secrets are written in plaintext", cur.HostPath)
	}
	return p, ids[0], nil
}

func strongProvider(_ context.Context, g *grader) (bool, string) {
	p, id, err := g.writeKey()
	if err != nil {
		return false, err.Error()
	}
	if p.Type == encryption.Secretbox || (p.Type == encryption.KMS && p.KMSVersion == "v2") {
		return true, "kube-apiserver writes Secrets with " + id
	}
	return false, fmt.Sprintf("kube-apiserver writes Secrets with %s (the first provider for secrets)", id)
}

func secretsCurrentKey(ctx context.Context, g *grader) (bool, string) {
	p, id, err := g.writeKey()
	if err != nil {
		return false, err.Error()
	}
	if old := g.rec.OldKey; old != nil && string(p.Type) == old.Provider && p.Keys[0] == old.Name {
		return false, fmt.Sprintf("kube-apiserver still writes with the old key %s: put a new key first", id)
	}
	rep, err := g.secrets(ctx)
	if err != nil {
		return false, errText(err)
	}
	under := 0
	for _, k := range rep.Keys {
		if k.ID == id {
			under = k.Count
		}
	}
	if rep.Total == 0 || under != rep.Total {
		return false, fmt.Sprintf("%d of %d Secrets under %s, the key kube-apiserver writes with (%s): rewrite the others", under, rep.Total, id, keyCounts(rep))
	}
	return true, fmt.Sprintf("all %d Secrets under %s, the key kube-apiserver writes with", rep.Total, id)
}

func oldKeyRemoved(_ context.Context, g *grader) (bool, string) {
	old := g.rec.OldKey
	if old == nil {
		return false, RecordFile + " names no old key"
	}
	cur, err := g.config()
	switch {
	case err != nil:
		return false, err.Error()
	case cur == nil || cur.Missing:
		return false, "kube-apiserver.yaml names no encryption config"
	}
	keys, err := configKeys(cur.HostPath)
	if err != nil {
		return false, err.Error()
	}
	for _, k := range keys {
		if k.SecretSHA256 == old.SecretSHA256 {
			return false, fmt.Sprintf("%s still has the old key's secret (as %s:%s): remove it once no value uses it", cur.HostPath, k.Provider, k.Name)
		}
		if k.Provider == old.Provider && k.Name == old.Name {
			return false, fmt.Sprintf("%s still has %s:%s", cur.HostPath, k.Provider, k.Name)
		}
	}
	return true, fmt.Sprintf("no provider of %s has %s:%s or its secret", cur.HostPath, old.Provider, old.Name)
}

// leafChecks returns the certificate checks of the server and peer pairs.
func (g *grader) leafChecks() ([]certs.Check, []certs.Row) {
	pairs := certs.Discover(g.st)
	checks := certs.Validate(g.st, pairs, g.opts.Now)
	var out []certs.Check
	for _, c := range checks {
		if c.Pair == certs.PairServer || c.Pair == certs.PairPeer {
			out = append(out, c)
		}
	}
	var rows []certs.Row
	for _, r := range certs.Table(pairs, checks, g.opts.Now) {
		if r.Name == certs.PairServer || r.Name == certs.PairPeer {
			rows = append(rows, r)
		}
	}
	return out, rows
}

func certsValid(_ context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	checks, rows := g.leafChecks()
	var days []string
	for _, r := range rows {
		days = append(days, fmt.Sprintf("%s %d days left", r.Name, r.DaysLeft))
	}
	for _, c := range checks {
		if c.Status == certs.Fail || (c.Name == certs.CheckDates && c.Status != certs.Pass) {
			return false, c.Message
		}
	}
	return true, strings.Join(days, ", ")
}

func serverSANs(_ context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	checks, _ := g.leafChecks()
	for _, c := range checks {
		if c.Pair == certs.PairServer && c.Name == certs.CheckSANs {
			return c.Status == certs.Pass, c.Message
		}
	}
	return false, "the server certificate could not be checked (see etcd-harden certs check)"
}

func unchanged(_ context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	var diffs []string
	if fileSHA256(filepath.Join(g.root, filepath.FromSlash(EtcdPKIDir), "ca.crt")) != g.rec.CA {
		diffs = append(diffs, "the etcd CA certificate was replaced")
	}
	diffs = append(diffs, flagDiff("etcd.yaml", g.rec.EtcdFlags, flagList(g.st.Etcd))...)
	diffs = append(diffs, flagDiff("kube-apiserver.yaml", g.rec.APIServerFlags, flagList(g.st.APIServer))...)
	if path := configPath(g.st); fileSHA256(path) != g.rec.EncryptionConfig {
		diffs = append(diffs, "the encryption config changed")
	}
	if len(diffs) > 0 {
		return false, strings.Join(diffs, "; ")
	}
	return true, "the etcd CA, etcd.yaml's and kube-apiserver.yaml's flags and the encryption config are as at the start"
}

// flagDiff names the flags added to and removed from a manifest since the start.
func flagDiff(file string, before, after []string) []string {
	var out []string
	for _, f := range after {
		if !slices.Contains(before, f) {
			out = append(out, file+": "+f+" added")
		}
	}
	for _, f := range before {
		if !slices.Contains(after, f) {
			out = append(out, file+": "+f+" removed")
		}
	}
	return out
}

// firstNot returns the first of a comma-separated list of URLs without prefix.
func firstNot(list, prefix string) string {
	if strings.TrimSpace(list) == "" {
		return "nothing"
	}
	for _, u := range strings.Split(list, ",") {
		if u = strings.TrimSpace(u); !strings.HasPrefix(u, prefix) {
			return u
		}
	}
	return ""
}

// keyCounts says how many values each key holds: "200 under secretbox:key-1".
func keyCounts(rep *encryption.StatusReport) string {
	var parts []string
	for _, k := range rep.Keys {
		parts = append(parts, fmt.Sprintf("%d under %s", k.Count, k.ID))
	}
	if rep.Plaintext > 0 {
		parts = append(parts, fmt.Sprintf("%d in plaintext", rep.Plaintext))
	}
	return strings.Join(parts, ", ")
}
