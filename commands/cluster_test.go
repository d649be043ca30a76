package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/clitest"
	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// writer puts a key every 50 ms through a client with every member's endpoint, over TLS
// once node-1 has its client pair (with plain http as the fallback while members still
// serve it), and records what was acknowledged and the longest gap between two
// acknowledged writes.
type writer struct {
	pki       string // node-1's root
	endpoints []string

	mu      sync.Mutex
	acked   []string
	last    time.Time
	longest time.Duration
	failed  int
}

func (w *writer) tlsConfig() *tls.Config {
	info := transport.TLSInfo{
		TrustedCAFile: filepath.Join(w.pki, "etc/kubernetes/pki/etcd/ca.crt"),
		CertFile:      filepath.Join(w.pki, "etc/kubernetes/pki/apiserver-etcd-client.crt"),
		KeyFile:       filepath.Join(w.pki, "etc/kubernetes/pki/apiserver-etcd-client.key"),
	}
	if _, err := os.Stat(info.KeyFile); err != nil {
		return nil
	}
	cfg, err := info.ClientConfig()
	if err != nil {
		return nil
	}
	return cfg
}

func (w *writer) client(tc *tls.Config) *clientv3.Client {
	var eps []string
	for _, ep := range w.endpoints {
		if tc != nil {
			ep = strings.Replace(ep, "http://", "https://", 1)
		}
		eps = append(eps, ep)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: eps, TLS: tc, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil
	}
	return c
}

func (w *writer) run(ctx context.Context) {
	plain := w.client(nil)
	defer plain.Close()
	var secure *clientv3.Client
	defer func() {
		if secure != nil {
			secure.Close()
		}
	}()
	w.last = time.Now()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if secure == nil {
			if tc := w.tlsConfig(); tc != nil {
				secure = w.client(tc)
			}
		}
		key := fmt.Sprintf("/writer/%06d", i)
		ok := false
		for _, c := range []*clientv3.Client{secure, plain} {
			if c == nil {
				continue
			}
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := c.Put(pctx, key, "v")
			cancel()
			if err == nil {
				ok = true
				break
			}
		}
		w.mu.Lock()
		if ok {
			now := time.Now()
			w.acked = append(w.acked, key)
			w.longest = max(w.longest, now.Sub(w.last))
			w.last = now
		} else {
			w.failed++
		}
		w.mu.Unlock()
	}
}

// TestClusterRolloutWithWritesFlowing is the whole story of a three-member cluster: the
// lab, a plan on node-1 that makes the bundle, plans on node-2 and node-3 with it, then
// `apply` on the nodes round after round until it says the cluster is done, while a
// writer puts a key every 50 ms. At the end every member's peer and client URLs are
// https, every member refuses a client and a peer without a certificate, every write the
// writer saw acknowledged is there, and the three encryption configs are identical.
func TestClusterRolloutWithWritesFlowing(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-member rollout takes about a minute")
	}
	c := clitest.StartCluster(t, 3)
	nodes := c.Nodes()
	var endpoints []string
	for _, n := range nodes {
		endpoints = append(endpoints, n.Endpoint())
	}
	w := &writer{pki: nodes[0].Root(), endpoints: endpoints}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { w.run(ctx) })
	defer func() { stop(); wg.Wait() }()
	start := time.Now()

	if out, _, err := execute(t, "audit", "--root", nodes[0].Root(), "-o", "json"); err == nil || !strings.Contains(out, `"id": "cluster.peers"`) ||
		!strings.Contains(out, "members on plain http peers (member list): node-1, node-2, node-3") {
		t.Errorf("audit before the rollout: %v\n%s", err, out)
	}
	plans := make([]string, 3)
	for i, n := range nodes {
		plans[i] = filepath.Join(t.TempDir(), "plan")
		args := []string{"plan", "--root", n.Root(), "--out", plans[i]}
		if i > 0 {
			args = append(args, "--bundle", filepath.Join(plans[0], harden.BundleDir))
		}
		out, errOut, err := execute(t, args...)
		if err != nil {
			t.Fatalf("plan on %s: %v\n%s%s", lab.NodeDirName(i+1), err, out, errOut)
		}
	}
	for path, want := range map[string]os.FileMode{
		"bundle": 0o700 | os.ModeDir, "bundle/secrets": 0o700 | os.ModeDir, "bundle/secrets/ca.key": 0o600,
		"bundle/secrets/encryption-config.yaml": 0o600, "bundle/ca.crt": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(plans[0], path))
		if err != nil || fi.Mode() != want {
			t.Errorf("%s: %v, %v; want mode %v", path, fi.Mode(), err, want)
		}
	}
	review, _ := os.ReadFile(filepath.Join(plans[0], harden.ReviewFile))
	if !bytes.Contains(review, []byte("scp -rp bundle/")) || !bytes.Contains(review, []byte("Never commit `bundle/secrets/`")) {
		t.Errorf("REVIEW.md does not say how to carry the bundle and what not to commit:\n%s", review)
	}
	// The rollout table is the cluster as observed when the plan was written, and says when.
	for _, want := range []string{"| node-1 | 0 (http) | up (this node, planned here) |", "| node-2 | 0 (http) | up |", "| node-3 | 0 (http) | up |",
		"As etcd showed the cluster at " + time.Now().UTC().Format("2006-01-02 "), "when this plan was written"} {
		if !bytes.Contains(review, []byte(want)) {
			t.Errorf("REVIEW.md's rollout table has no %q:\n%s", want, review)
		}
	}

	done := false
	var log []string
	for round := 1; round <= 4 && !done; round++ {
		for i, n := range nodes {
			out, errOut, err := execute(t, "apply", "--root", n.Root(), "--plan", plans[i], "--yes", "--timeout", "60s")
			log = append(log, fmt.Sprintf("round %d %s:\n%s", round, lab.NodeDirName(i+1), out))
			if err != nil {
				t.Fatalf("apply on %s in round %d: %v\n%s\n%s", lab.NodeDirName(i+1), round, err, out, errOut)
			}
			if round == 1 && i == 0 {
				// node-1 serves TLS now: a plan of another node without the bundle would
				// make a second CA.
				other := filepath.Join(t.TempDir(), "plan")
				_, _, err := execute(t, "plan", "--root", nodes[1].Root(), "--out", other)
				if !IsUsage(err) || !strings.Contains(err.Error(), "member node-1 already serves TLS") || !strings.Contains(err.Error(), "plan this node with --bundle") {
					t.Errorf("plan on node-2 without the bundle after node-1's phase 1: %v", err)
				}
				if _, err := os.Stat(other); !os.IsNotExist(err) {
					t.Errorf("the refused plan wrote %s", other)
				}
			}
			if strings.Contains(out, "the cluster is done") {
				done = true
				break
			}
		}
	}
	elapsed := time.Since(start)
	stop()
	wg.Wait()
	t.Log(strings.Join(log, "\n"))
	if !done {
		t.Fatalf("the rollout did not finish in 4 rounds")
	}

	// Run again at the end, apply and plan change nothing.
	if out, _, err := execute(t, "apply", "--root", nodes[1].Root(), "--plan", plans[1], "--yes"); err != nil || !strings.Contains(out, "the cluster is done") {
		t.Errorf("apply on node-2 once the cluster is done: %v\n%s", err, out)
	}
	if out, _, err := execute(t, "plan", "--root", nodes[2].Root(), "--out", filepath.Join(t.TempDir(), "again")); err != nil || !strings.Contains(out, "nothing to change") {
		t.Errorf("plan on node-3 once the cluster is done: %v\n%s", err, out)
	}
	// The cluster as etcd shows it, seen with node-1's client pair.
	facts, err := cluster.Observe(context.Background(), cluster.Access{Endpoints: []string{strings.Replace(endpoints[0], "http://", "https://", 1)}, TLS: w.tlsConfig()})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range facts.Members {
		if !m.PeerTLS || !m.ClientTLS || m.ClientHTTP || !m.ClientCertRequired || !m.PeerCertRequired || !m.Up {
			t.Errorf("member %s at the end: %+v; want https only, client and peer certificates required", m.Name, m)
		}
	}
	// Every acknowledged write is there.
	cli := w.client(w.tlsConfig())
	defer cli.Close()
	resp, err := cli.Get(context.Background(), "/writer/", clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, kv := range resp.Kvs {
		have[string(kv.Key)] = true
	}
	lost := 0
	for _, k := range w.acked {
		if !have[k] {
			lost++
		}
	}
	if lost > 0 || len(w.acked) < 100 {
		t.Errorf("%d of %d acknowledged writes lost", lost, len(w.acked))
	}
	// The three encryption configs are byte-identical.
	cp, err := harden.ReadCluster(plans[0])
	if err != nil || cp == nil || cp.EncryptionConfig == "" {
		t.Fatalf("cluster plan: %+v, %v", cp, err)
	}
	var first []byte
	for i, n := range nodes {
		data, err := os.ReadFile(filepath.Join(n.Root(), cp.EncryptionConfig))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = data
		} else if !bytes.Equal(data, first) {
			t.Errorf("%s's encryption config differs from node-1's", lab.NodeDirName(i+1))
		}
	}
	// audit reports the cluster as done, and the same encryption config on every node.
	var sums []string
	for i, n := range nodes {
		out, _, _ := execute(t, "audit", "--root", n.Root(), "-o", "json")
		var checks []struct{ ID, Status, Detail string }
		if err := json.Unmarshal([]byte(out), &checks); err != nil {
			t.Fatalf("audit -o json on %s: %v\n%s", lab.NodeDirName(i+1), err, out)
		}
		for _, c := range checks {
			switch c.ID {
			case cluster.IDPeers, cluster.IDClientCerts:
				if c.Status != "pass" {
					t.Errorf("audit on %s at the end: %+v", lab.NodeDirName(i+1), c)
				}
			case cluster.IDConfig:
				sums = append(sums, strings.Fields(c.Detail)[1])
			}
		}
	}
	if len(sums) != 3 || sums[0] != sums[1] || sums[1] != sums[2] {
		t.Errorf("the encryption config's sha256 per node, as audit reports it: %v", sums)
	}
	if out, _, err := execute(t, "certs", "check", "--root", nodes[1].Root()); err != nil || !strings.Contains(out, "The cluster, as etcd shows it:") {
		t.Errorf("certs check on node-2 at the end: %v\n%s", err, out)
	}
	t.Logf("rollout of 3 members: %s; %d writes acknowledged, %d failed tries, longest gap between acknowledged writes %s",
		elapsed.Round(100*time.Millisecond), len(w.acked), w.failed, w.longest.Round(10*time.Millisecond))
	checkPeerCannotJoin(t, cli, w.tlsConfig(), filepath.Join(nodes[0].Root(), "etc/kubernetes/pki/etcd/ca.crt"))
}

// checkPeerCannotJoin tries a real join once the cluster is done: the member is added
// with an http peer URL on 127.0.0.14 (MemberAdd), and a real etcd (this binary's, as
// the lab runs its members) is started there with no peer certificate; it trusts the
// cluster's CA (caFile), so what stops it is the certificate it lacks. It must never
// join: the member stays unstarted in the member list. Then the member is removed, the
// process stopped, and the three members are healthy, with a leader.
func checkPeerCannotJoin(t *testing.T, cli *clientv3.Client, tc *tls.Config, caFile string) {
	t.Helper()
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.14:0")
		if err != nil {
			t.Fatalf("a port on 127.0.0.14: %v", err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	peerURL, clientURL := fmt.Sprintf("http://127.0.0.14:%d", port()), fmt.Sprintf("http://127.0.0.14:%d", port())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// etcd refuses a member change until every member has been connected for a few
	// seconds (its strict reconfig check); the last restart was just now.
	var added *clientv3.MemberAddResponse
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		if added, err = cli.MemberAdd(ctx, []string{peerURL}); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("member add %s: %v", peerURL, err)
	}
	id := added.Member.ID
	removed := false
	remove := func() {
		if !removed {
			if _, err := cli.MemberRemove(ctx, id); err != nil {
				t.Errorf("member remove %x: %v", id, err)
			}
			removed = true
		}
	}
	defer remove()
	var initial []string
	for _, m := range added.Members {
		name := m.Name
		if m.ID == id {
			name = "node-4"
		}
		for _, u := range m.PeerURLs {
			initial = append(initial, name+"="+u)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "etcd-harden") // TestMain runs it as etcd-harden
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(bin, lab.EtcdSubcommand, "--", "--name=node-4", "--data-dir="+filepath.Join(t.TempDir(), "data"),
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--initial-cluster="+strings.Join(initial, ","), "--initial-cluster-state=existing", "--peer-trusted-ca-file="+caFile)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var exitErr error
	stopped := false
	select {
	case exitErr = <-exited:
		stopped = true
	case <-time.After(15 * time.Second):
	}
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Members {
		if m.ID == id && (m.Name != "" || len(m.ClientURLs) > 0) {
			t.Errorf("a peer without a certificate joined: member %x is started as %q (client URLs %v)", id, m.Name, m.ClientURLs)
		}
	}
	if !stopped {
		_ = cmd.Process.Kill()
		exitErr = <-exited
	}
	remove()
	var cause string
	for _, line := range strings.Split(log.String(), "\n") {
		if strings.Contains(line, "\"level\":\"fatal\"") || strings.Contains(line, "certificate") || strings.Contains(line, "could not retrieve cluster information") {
			cause = line
			break
		}
	}
	t.Logf("a peer without a certificate tried to join over %s: exited on its own %v (%v); etcd said: %.400s", peerURL, stopped, exitErr, cause)
	if !strings.Contains(cause, "certificate required") && !strings.Contains(cause, "bad certificate") {
		t.Errorf("the refused peer's log does not say that a member asked for its certificate; it says:\n%s", log.String())
	}
	// Quorum intact: the three members answer and follow one leader.
	var facts *cluster.Facts
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		var eps []string
		for _, m := range list.Members {
			if m.ID != id {
				eps = append(eps, m.ClientURLs...)
			}
		}
		facts, err = cluster.Observe(ctx, cluster.Access{Endpoints: eps, TLS: tc})
		if err == nil && len(facts.Members) == 3 && facts.Problem() == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the refused join the cluster is not healthy: %v, %+v", err, facts)
		}
	}
}

// TestPlanBundleRefusals: a --bundle folder that is not a bundle, and a bundle on a
// single-member etcd, are refused before anything is written.
func TestPlanBundleRefusals(t *testing.T) {
	l := clitest.StartLab(t)
	notBundle := t.TempDir()
	out := filepath.Join(t.TempDir(), "plan")
	_, _, err := execute(t, "plan", "--root", l.Root(), "--out", out, "--bundle", notBundle)
	if !IsUsage(err) || !strings.Contains(err.Error(), "--bundle "+notBundle+" has no ca.crt: give the bundle/ folder that `etcd-harden plan` wrote on the first node") {
		t.Errorf("plan --bundle on an empty folder: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the refused plan wrote %s: %v", out, err)
	}
	// A real bundle, from a plan of this very node, on a one-member etcd.
	bundle := filepath.Join(t.TempDir(), "bundle")
	if err := os.MkdirAll(filepath.Join(bundle, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	tls := testetcd.NewTLS(t, filepath.Join(bundle, "secrets"))
	if err := os.Rename(tls.CA, filepath.Join(bundle, harden.BundleCACert)); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	config := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n" +
		"  - secretbox: {keys: [{name: k, secret: " + base64.StdEncoding.EncodeToString(key) + "}]}\n  - identity: {}\n"
	if err := os.WriteFile(filepath.Join(bundle, harden.BundleConfig), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = execute(t, "plan", "--root", l.Root(), "--out", out, "--bundle", bundle)
	if !IsUsage(err) || !strings.Contains(err.Error(), "--bundle is for a node of a cluster of several members; this etcd has one member") {
		t.Errorf("plan --bundle on a one-member etcd: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the refused plan wrote %s: %v", out, err)
	}
}

// TestWizardOnClusterNode runs the plain wizard on node-1 of a three-member lab: its
// apply does phase 1 only, saves the cluster plan with the bundle, and the summary shows
// the rollout table and where to go next; node-2 then plans with that bundle, the wizard
// on node-3 without it is refused, and the wizard on node-2 given it at the cluster
// question (cluster.bundle) plans node-2 with node-1's CA and encryption config and
// applies phase 1 there.
func TestWizardOnClusterNode(t *testing.T) {
	c := clitest.StartCluster(t, 3)
	nodes := c.Nodes()
	writeAnswers := func(bundle string, node int) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "answers.yaml")
		if err := os.WriteFile(path, []byte(fmt.Sprintf("cluster.bundle: %q\n", bundle)+
			"encryption.provider: secretbox\nencryption.resources: [secrets]\nencryption.custom: \"\"\nencryption.keyName: key-lab\n"+
			fmt.Sprintf("encryption.rotate: false\nencryption.autoReload: false\ncerts.mode: auto\ncerts.keyType: ecdsa-p256\ncerts.nodeName: node-%d\n", node)+
			fmt.Sprintf("certs.advertiseIP: 127.0.0.1%d\nreview.action: apply\nbackup.skip: true\n", node)), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	answers := writeAnswers("", 1)
	out, errOut, err := execute(t, "--root", nodes[0].Root(), "--plain", "--answers", answers, "--yes")
	if err != nil {
		t.Fatalf("wizard on node-1: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{
		"This node is hardened as far as the cluster allows now",
		"node-1   1 (https for clients beside http)    up (this node)",
		"node-2   0 (http)                             up",
		"Next: phase 1 done on node-1; run the same `etcd-harden apply --plan` on node-2, node-3",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the wizard's summary has no %q:\n%s", want, out)
		}
	}
	bundle := filepath.Join(nodes[0].Root(), "var/lib/etcd-harden/cluster-plan", harden.BundleDir)
	plan2 := filepath.Join(t.TempDir(), "plan")
	if out, errOut, err := execute(t, "plan", "--root", nodes[1].Root(), "--bundle", bundle, "--out", plan2); err != nil {
		t.Fatalf("plan on node-2 with the wizard's bundle: %v\n%s%s", err, out, errOut)
	}
	// Its REVIEW.md shows node-1 at phase 1, as etcd showed it.
	review2, _ := os.ReadFile(filepath.Join(plan2, harden.ReviewFile))
	for _, want := range []string{"| node-1 | 1 (https for clients beside http) | up |", "| node-2 | 0 (http) | up (this node, planned here) |", "As etcd showed the cluster at "} {
		if !bytes.Contains(review2, []byte(want)) {
			t.Errorf("node-2's REVIEW.md has no %q:\n%s", want, review2)
		}
	}

	// node-1 serves TLS now: the wizard on node-3 without a bundle is refused, nothing
	// changed there.
	manifest3 := filepath.Join(nodes[2].Root(), filepath.FromSlash(lab.EtcdManifest))
	before3, err := os.ReadFile(manifest3)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = execute(t, "--root", nodes[2].Root(), "--plain", "--answers", writeAnswers("", 3), "--yes")
	if err == nil || !strings.Contains(err.Error()+out, "another member already serves TLS (node-1, phase 1 (https for clients beside http)) and no cluster bundle was given: this is not the first node; run the wizard again and give the first node's bundle/ folder at the cluster question (answers file: cluster.bundle)") {
		t.Errorf("the wizard on node-3 without the bundle: %v\n%s", err, out)
	}
	// Refused at preflight, before any question: not after the operator answered them all.
	if err == nil || !strings.HasPrefix(err.Error(), "Preflight: ") || strings.Contains(out, "Encryption at rest") {
		t.Errorf("the wizard on node-3 went past preflight without the bundle: %v\n%s", err, out)
	}
	if after3, _ := os.ReadFile(manifest3); !bytes.Equal(after3, before3) {
		t.Errorf("the refused wizard changed node-3's etcd.yaml")
	}

	// The wizard on node-2 with node-1's bundle (the cluster question): its certificates
	// come from node-1's CA, its encryption config is node-1's, and its apply does phase 1.
	out, errOut, err = execute(t, "--root", nodes[1].Root(), "--plain", "--answers", writeAnswers(bundle, 2), "--yes")
	if err != nil {
		t.Fatalf("wizard on node-2 with the bundle: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{
		"cluster bundle: " + bundle + " (the first node's etcd CA and encryption config)",
		"node-1   1 (https for clients beside http)    up",
		"node-2   1 (https for clients beside http)    up (this node)",
		"node-3   0 (http)                             up",
		"Next: phase 1 done on node-2; run the same `etcd-harden apply --plan` on node-3",
		"This node's plan uses the bundle in " + bundle,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the wizard on node-2 has no %q:\n%s", want, out)
		}
	}
	cp, err := harden.ReadCluster(filepath.Dir(bundle))
	if err != nil || cp == nil {
		t.Fatalf("node-1's cluster plan: %+v, %v", cp, err)
	}
	conf1, err1 := os.ReadFile(filepath.Join(nodes[0].Root(), cp.EncryptionConfig))
	conf2, err2 := os.ReadFile(filepath.Join(nodes[1].Root(), cp.EncryptionConfig))
	if err1 != nil || err2 != nil || !bytes.Equal(conf1, conf2) {
		t.Errorf("node-2's encryption config is not node-1's: %v, %v", err1, err2)
	}
	caPEM, err := os.ReadFile(filepath.Join(bundle, harden.BundleCACert))
	if err != nil {
		t.Fatal(err)
	}
	serverPEM, err := os.ReadFile(filepath.Join(nodes[1].Root(), "etc/kubernetes/pki/etcd/server.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	block, _ := pem.Decode(serverPEM)
	if block == nil {
		t.Fatal("node-2's server.crt holds no PEM block")
	}
	crt, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := crt.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil || crt.Subject.CommonName != "node-2" {
		t.Errorf("node-2's server certificate (CN %s) is not signed by node-1's CA: %v", crt.Subject.CommonName, err)
	}
}

// TestLabMembersRefusals: an even member count, and members with a training scenario,
// are refused before any lab is laid out.
func TestLabMembersRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--members", "4"}, "--members 4: give 1, 3 or 5 (an etcd cluster has an odd number of members)"},
		{[]string{"--members", "3", "--scenario", lab.DefaultScenario}, "--members 3 with --scenario: the training scenarios are one-node labs"},
	} {
		dir := filepath.Join(t.TempDir(), "lab")
		_, _, err := execute(t, append([]string{"lab", "--plain", "--dir", dir}, tc.args...)...)
		if !IsUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("lab %v: %v; want a usage error %q", tc.args, err, tc.want)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("lab %v laid out %s", tc.args, dir)
		}
	}
}
