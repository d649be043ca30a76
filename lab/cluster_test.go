package lab_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startCluster starts a cluster lab in a test folder and closes it when the test ends.
func startCluster(tb testing.TB, members int, opts lab.Options) *lab.Cluster {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(tb.TempDir(), "root")
	}
	if opts.RegistryDir == "" {
		opts.RegistryDir = tb.TempDir()
	}
	opts.EtcdCommand = testCommand(tb)
	if opts.Log == nil {
		opts.Log = func(s string) { tb.Log(s) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := lab.StartCluster(ctx, opts, members)
	if err != nil {
		tb.Fatalf("start cluster lab: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// TestClusterFormsAndRestartsMembers starts three members, each from its own node's
// etcd.yaml on its own loopback address: they form one cluster (a write through one
// member is read through another), `lab env` gives all endpoints or one node's, and a
// killed member is started again and catches up.
func TestClusterFormsAndRestartsMembers(t *testing.T) {
	reg := t.TempDir()
	c := startCluster(t, 3, lab.Options{Secrets: 10, ConfigMaps: -1, RegistryDir: reg})
	nodes := c.Nodes()
	if len(nodes) != 3 {
		t.Fatalf("%d nodes, want 3", len(nodes))
	}
	for i, n := range nodes {
		want := "http://" + lab.NodeIP(i+1) + ":"
		if !strings.HasPrefix(n.Endpoint(), want) {
			t.Errorf("node-%d answers on %q, want %sPORT", i+1, n.Endpoint(), want)
		}
		if filepath.Base(n.Root()) != lab.NodeDirName(i+1) || filepath.Dir(n.Root()) != c.Root() {
			t.Errorf("node-%d root %s", i+1, n.Root())
		}
	}
	one, two := client(t, nodes[0]), client(t, nodes[1])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	members, err := one.MemberList(ctx)
	if err != nil || len(members.Members) != 3 {
		t.Fatalf("member list: %v, %v; want 3 members", members, err)
	}
	for _, m := range members.Members {
		if len(m.PeerURLs) != 1 || !strings.HasPrefix(m.PeerURLs[0], "http://127.0.0.1") {
			t.Errorf("member %s peers on %v; want one http URL on its own address", m.Name, m.PeerURLs)
		}
	}
	if _, err := one.Put(ctx, "/lab-test/k", "v"); err != nil {
		t.Fatal(err)
	}
	if got := get(t, two, "/lab-test/k"); string(got["/lab-test/k"]) != "v" {
		t.Fatalf("read through node-2: %q; want the write made through node-1", got)
	}
	if n := len(get(t, two, "/registry/secrets/")); n != 10 {
		t.Errorf("%d Secrets seen through node-2, want 10", n)
	}

	env, err := lab.EnvForNode(c.Root(), "")
	if err != nil || len(env) != 1 || strings.Count(env[0], ",") != 2 {
		t.Errorf("cluster env = %v, %v; want one ETCDCTL_ENDPOINTS with three URLs", env, err)
	}
	if env, err := lab.EnvForNode(c.Root(), "node-2"); err != nil || env[0] != "ETCDCTL_ENDPOINTS="+nodes[1].Endpoint() {
		t.Errorf("env --node node-2 = %v, %v; want node-2's endpoint", env, err)
	}
	if _, err := lab.EnvForNode(c.Root(), "node-9"); !errors.Is(err, lab.ErrNotLabFolder) || !strings.Contains(err.Error(), "its nodes are node-1, node-2, node-3") {
		t.Errorf("env --node node-9 = %v", err)
	}

	// Kill node-3's member: the lab starts it again, and it catches up on a write made
	// while it was down.
	third := nodes[2]
	pid, endpoint := third.PID(), third.Endpoint()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitForEvent(t, third, lab.EtcdFailed)
	// When node-3 led, the other two elect a leader first: a write may time out meanwhile,
	// as any client's would, and is tried again.
	for deadline := time.Now().Add(15 * time.Second); ; {
		_, err := one.Put(ctx, "/lab-test/while-down", "x")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write with one member down: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ready := waitFor(t, third, lab.EtcdReady)
	if !ready.Restart || ready.PID == pid || ready.Endpoint != endpoint {
		t.Fatalf("after the kill: %+v; want a restart on %s", ready, endpoint)
	}
	three := client(t, third)
	resp, err := three.Get(ctx, "/lab-test/while-down")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("node-3 after its restart: %v, %v; want the write made while it was down", resp, err)
	}
	if _, err := three.Get(ctx, "x", clientv3.WithSerializable()); err != nil {
		t.Fatal(err)
	}
}

// TestClusterRefusesEvenMembers: an even member count (or too many) is refused before
// anything is laid out.
func TestClusterRefusesEvenMembers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	for _, n := range []int{2, 4, 7} {
		_, err := lab.StartCluster(context.Background(), lab.Options{Dir: dir, RegistryDir: t.TempDir()}, n)
		if err == nil || !strings.Contains(err.Error(), "give 1, 3 or 5") {
			t.Errorf("StartCluster(%d) = %v", n, err)
		}
	}
}
