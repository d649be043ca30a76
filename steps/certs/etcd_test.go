package certs

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// member is one etcd member started from generated pairs.
type member struct {
	name               string
	clientURL, peerURL url.URL
	pairs              []Pair
	dir                string
}

func (m member) config(initialCluster string) *embed.Config {
	ca, srv, peer := Find(m.pairs, PairCA), Find(m.pairs, PairServer), Find(m.pairs, PairPeer)
	cfg := embed.NewConfig()
	cfg.Name = m.name
	cfg.Dir = filepath.Join(m.dir, "data")
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.LogLevel = "error"
	cfg.ClientTLSInfo = transport.TLSInfo{CertFile: srv.Cert.Path, KeyFile: srv.Key.Path, TrustedCAFile: ca.Cert.Path, ClientCertAuth: true}
	cfg.PeerTLSInfo = transport.TLSInfo{CertFile: peer.Cert.Path, KeyFile: peer.Key.Path, TrustedCAFile: ca.Cert.Path, ClientCertAuth: true}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{m.clientURL}, []url.URL{m.clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{m.peerURL}, []url.URL{m.peerURL}
	cfg.InitialCluster = initialCluster
	return cfg
}

func httpsURL(t *testing.T) url.URL {
	u, err := url.Parse(fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	return *u
}

// TestGeneratedCertsWorkWithRealEtcd runs a two-member etcd over mutual TLS for clients
// and peers with certificates Generate made: node1's set from scratch, node2's signed
// by node1's CA. kube-apiserver's and the health check's client pairs connect; a
// client without a certificate, or with one from another CA, is refused.
func TestGeneratedCertsWorkWithRealEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two etcd members")
	}
	now := time.Now()
	root1, s1 := tree(t)
	pairs1 := generated(t, root1, s1, GenOptions{Now: now})

	root2, s2 := tree(t, "--name=node1", "--name=node2")
	ca1 := Find(pairs1, PairCA)
	pki2 := filepath.Join(root2, "etc", "kubernetes", "pki", "etcd")
	for src, dst := range map[string]string{ca1.Cert.Path: "ca.crt", ca1.Key.Path: "ca.key"} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(pki2, dst), data, 0o600)
	}
	p := plan.New(root2)
	g, err := Generate(p, s2, Discover(s2), GenOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if g.NewCA || slices.Contains(g.Issued, PairCA) {
		t.Fatalf("node2 made a new CA: %v", g.Issued)
	}
	if _, err := p.Apply(plan.ApplyOptions{BackupRoot: filepath.Join(root2, "backups")}); err != nil {
		t.Fatal(err)
	}
	pairs2 := Discover(s2)
	for _, set := range [][]Pair{pairs1, pairs2} {
		if checks := Validate(s1, set, now); Failed(checks) {
			t.Fatalf("generated set fails its own validation:\n%s", problems(checks))
		}
	}

	members := []member{
		{name: "node1", clientURL: httpsURL(t), peerURL: httpsURL(t), pairs: pairs1, dir: t.TempDir()},
		{name: "node2", clientURL: httpsURL(t), peerURL: httpsURL(t), pairs: pairs2, dir: t.TempDir()},
	}
	initial := fmt.Sprintf("node1=%s,node2=%s", members[0].peerURL.String(), members[1].peerURL.String())
	var servers []*embed.Etcd
	for _, m := range members {
		e, err := embed.StartEtcd(m.config(initial))
		if err != nil {
			t.Fatalf("start %s: %v", m.name, err)
		}
		t.Cleanup(e.Close)
		servers = append(servers, e)
	}
	for i, e := range servers {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			t.Fatalf("%s: %v", members[i].name, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("%s was not ready within 30s (peer TLS refused?)", members[i].name)
		}
	}

	endpoints := []string{members[0].clientURL.String(), members[1].clientURL.String()}
	connect := func(certPath, keyPath string, wait time.Duration) error {
		tlsInfo := transport.TLSInfo{CertFile: certPath, KeyFile: keyPath, TrustedCAFile: ca1.Cert.Path}
		tc, err := tlsInfo.ClientConfig()
		if err != nil {
			return err
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: wait, TLS: tc, Logger: zap.NewNop()})
		if err != nil {
			return err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if _, err := c.Put(ctx, "/registry/test", "x"); err != nil {
			return err
		}
		resp, err := c.MemberList(ctx)
		if err != nil {
			return err
		}
		if len(resp.Members) != 2 {
			return fmt.Errorf("%d members", len(resp.Members))
		}
		return nil
	}
	for _, name := range []string{PairAPIServer, PairHealthcheck} {
		for i, set := range [][]Pair{pairs1, pairs2} {
			pr := Find(set, name)
			if err := connect(pr.Cert.Path, pr.Key.Path, 5*time.Second); err != nil {
				t.Errorf("node%d's %s refused: %v", i+1, name, err)
			}
		}
	}
	if err := connect("", "", time.Second); err == nil {
		t.Error("a client without a certificate was let in")
	}
	other := testetcd.NewTLS(t, t.TempDir())
	if err := connect(other.ClientCert, other.ClientKey, time.Second); err == nil {
		t.Error("a client certificate from another CA was let in")
	}
}
