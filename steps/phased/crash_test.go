//go:build unix

package phased_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/phased"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// The test binary is also the lab's etcd (etcdChildEnv) and a child that applies a
// cluster plan and SIGKILLs itself at one point of one phase (crashEnv).
const (
	etcdChildEnv = "PHASED_ETCD_CHILD"
	crashEnv     = "PHASED_CRASH" // "<root>|<plan dir>|<phase>|<point substring>"
)

func TestMain(m *testing.M) {
	if os.Getenv(etcdChildEnv) == "1" {
		lab.RunEtcdMain(os.Args[1:])
		os.Exit(0)
	}
	if v := os.Getenv(crashEnv); v != "" {
		if err := crashChild(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild applies the plan and kills itself at the first hook point of the phase
// that contains the substring.
func crashChild(v string) error {
	parts := strings.Split(v, "|")
	phase, _ := strconv.Atoi(parts[2])
	cur := -1
	_, err := apply(parts[0], parts[1], func(e phased.Event) {
		if e.Phase > 0 {
			cur = int(e.Phase)
		}
	}, func(point string) {
		if cur == phase && strings.Contains(point, parts[3]) {
			fmt.Println("killed at", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	})
	return err
}

// apply runs phased.Apply on the node under root with the plan in dir.
func apply(root, dir string, progress func(phased.Event), hook func(string)) (*phased.Report, error) {
	cp, err := harden.ReadCluster(dir)
	if err != nil {
		return nil, err
	}
	p, err := harden.ReadChanges(dir, root)
	if err != nil {
		return nil, err
	}
	return phased.Apply(context.Background(), phased.Input{
		Root: root, Plan: p, Node: cp.Node, Manifests: cp.Manifests(), Etcd: cp.Etcd,
		EncryptionConfig: cp.EncryptionConfig, Endpoints: cp.Endpoints,
	}, phased.Options{Timeout: time.Minute, Hook: hook}, progress)
}

// plans writes each node's cluster plan, the first node's bundle used by the others.
// Nodes in ownCA are planned without the bundle, with a CA of their own.
func plans(t *testing.T, c *lab.Cluster, ownCA ...int) []string {
	var dirs []string
	var bundle *harden.Bundle
	for i, n := range c.Nodes() {
		st, err := discover.Load(discover.Defaults(n.Root(), "", ""))
		if err != nil {
			t.Fatal(err)
		}
		f, err := cluster.Observe(context.Background(), cluster.Access{Endpoints: []string{n.Endpoint()}})
		if err != nil {
			t.Fatal(err)
		}
		var names, eps []string
		for _, m := range f.Members {
			names, eps = append(names, m.Name), append(eps, m.ClientURLs...)
		}
		b := bundle
		if slices.Contains(ownCA, i) {
			b = nil
		}
		r, err := harden.Build(st, harden.Options{Bundle: b})
		if err != nil {
			t.Fatal(err)
		}
		if err := harden.AddCluster(r, lab.NodeDirName(i+1), names, eps, b); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "plan")
		if err := harden.WriteOut(dir, r, harden.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if bundle, err = harden.ReadBundle(dir); err != nil {
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// TestKilledInEachPhaseKeepsQuorumAndFinishes kills `apply` (a child process) with
// SIGKILL in each phase: at the write of etcd.yaml in phase 1 and 3, right after the
// member update in phase 2. Each time the cluster keeps its quorum (a write goes
// through), and running apply again on that node finishes the phase; the rollout ends
// with every member on mutual TLS.
func TestKilledInEachPhaseKeepsQuorumAndFinishes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-member cluster and kills apply three times")
	}
	c := startCluster(t)
	nodes := c.Nodes()
	dirs := plans(t, c)
	self, _ := os.Executable()

	var httpURLs []string
	for _, n := range nodes {
		httpURLs = append(httpURLs, n.Endpoint())
	}

	kill := func(i, phase int, point string) {
		t.Helper()
		cmd := exec.Command(self, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+strings.Join([]string{nodes[i].Root(), dirs[i], strconv.Itoa(phase), point}, "|"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || !exit.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("node-%d, phase %d: the child was not killed at %q: %v\n%s", i+1, phase, point, err, out)
		}
		t.Logf("node-%d, phase %d: %s", i+1, phase, strings.TrimSpace(string(out)))
		// Quorum: the cluster takes a write within seconds, through the other members
		// (still on http for clients until phase 3 is everywhere).
		var others []string
		for j, n := range nodes {
			if j != i {
				others = append(others, httpURLs[j])
			}
			_ = n
		}
		cli, err := clientv3.New(clientv3.Config{Endpoints: others, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		defer cli.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, fmt.Sprintf("/quorum/%d", phase), "x"); err != nil {
			t.Fatalf("no quorum after killing apply on node-%d in phase %d: %v", i+1, phase, err)
		}
	}
	run := func(i int, wantPhase cluster.Phase) {
		t.Helper()
		rep, err := apply(nodes[i].Root(), dirs[i], nil, nil)
		if err != nil {
			t.Fatalf("apply again on node-%d: %v", i+1, err)
		}
		if rep.Phase < wantPhase && len(rep.Done) == 0 {
			t.Fatalf("node-%d: phase %s after apply, want %s (%+v)", i+1, rep.Phase, wantPhase, rep)
		}
		t.Logf("node-%d: %s", i+1, rep.Next())
	}
	// Another node holds the rollout lock: node-1 restarts nothing.
	holder, err := clientv3.New(clientv3.Config{Endpoints: httpURLs[1:2], DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	lease, err := holder.Grant(context.Background(), 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Put(context.Background(), phased.LockKey, "node-2", clientv3.WithLease(lease.ID)); err != nil {
		t.Fatal(err)
	}
	etcdYAML := filepath.Join(nodes[0].Root(), lab.EtcdManifest)
	before, _ := os.ReadFile(etcdYAML)
	cp, _ := harden.ReadCluster(dirs[0])
	changes, _ := harden.ReadChanges(dirs[0], nodes[0].Root())
	if _, err := phased.Apply(context.Background(), phased.Input{
		Root: nodes[0].Root(), Plan: changes, Node: cp.Node, Manifests: cp.Manifests(), Etcd: cp.Etcd,
		EncryptionConfig: cp.EncryptionConfig, Endpoints: cp.Endpoints,
	}, phased.Options{GateTimeout: 3 * time.Second}, nil); !errors.Is(err, phased.ErrBusy) ||
		!strings.Contains(err.Error(), "node-2 holds "+phased.LockKey) || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("apply on node-1 while node-2 holds the lock: %v", err)
	}
	if after, _ := os.ReadFile(etcdYAML); string(after) != string(before) {
		t.Fatal("node-1's etcd.yaml changed while another node held the lock")
	}
	if _, err := holder.Revoke(context.Background(), lease.ID); err != nil {
		t.Fatal(err)
	}
	kill(0, 1, "rename etc/kubernetes/manifests/etcd.yaml")
	run(0, cluster.PhaseClientTLS)
	run(1, cluster.PhaseClientTLS)
	kill(2, 2, "phase 2: member updated") // node-3 does phase 1, then dies in phase 2
	run(2, cluster.PhasePeerTLS)
	run(0, cluster.PhasePeerTLS)
	kill(1, 3, "rename etc/kubernetes/manifests/etcd.yaml") // node-2 does phase 2, then dies in phase 3
	run(1, cluster.PhaseMutualTLS)
	run(2, cluster.PhaseMutualTLS)
	rep, err := apply(nodes[0].Root(), dirs[0], nil, nil)
	if err != nil || !rep.Complete() {
		t.Fatalf("last apply on node-1: %+v, %v; want the cluster done", rep, err)
	}
}

// startCluster starts a three-member cluster lab whose etcd is this test binary.
func startCluster(t *testing.T) *lab.Cluster {
	self, _ := os.Executable()
	c, err := lab.StartCluster(context.Background(), lab.Options{
		Dir: filepath.Join(t.TempDir(), "root"), RegistryDir: t.TempDir(), Secrets: 2, ConfigMaps: -1,
		EtcdCommand: func(args []string) *exec.Cmd {
			cmd := exec.Command(self, args...)
			cmd.Env = append(os.Environ(), etcdChildEnv+"=1")
			return cmd
		},
	}, 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestFailedGateRollsTheNodeBack: node-2 was planned without the bundle, so its
// certificates come from a CA of its own. Its phase 1 restarts its etcd on https beside
// http, but from node-2 the other members' https cannot be verified: the gate over the
// whole cluster fails, node-2's files are put back, and the cluster is healthy again
// with node-2 at phase 0.
func TestFailedGateRollsTheNodeBack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a three-member cluster")
	}
	c := startCluster(t)
	nodes := c.Nodes()
	dirs := plans(t, c, 1)
	run := func(i int) (*phased.Report, error) {
		cp, err := harden.ReadCluster(dirs[i])
		if err != nil {
			t.Fatal(err)
		}
		p, err := harden.ReadChanges(dirs[i], nodes[i].Root())
		if err != nil {
			t.Fatal(err)
		}
		return phased.Apply(context.Background(), phased.Input{
			Root: nodes[i].Root(), Plan: p, Node: cp.Node, Manifests: cp.Manifests(), Etcd: cp.Etcd,
			EncryptionConfig: cp.EncryptionConfig, Endpoints: cp.Endpoints,
		}, phased.Options{Timeout: 30 * time.Second, GateTimeout: 10 * time.Second}, nil)
	}
	for _, i := range []int{0, 2} {
		if _, err := run(i); err != nil {
			t.Fatalf("node-%d: %v", i+1, err)
		}
	}
	etcdYAML := filepath.Join(nodes[1].Root(), lab.EtcdManifest)
	before, _ := os.ReadFile(etcdYAML)
	_, err := run(1)
	if err == nil || !strings.Contains(err.Error(), "phase 1 on node-2: the cluster did not become healthy after the restart") ||
		!strings.Contains(err.Error(), "rolled back: node-2's files are back from") {
		t.Fatalf("node-2 with a CA of its own: %v", err)
	}
	if after, _ := os.ReadFile(etcdYAML); string(after) != string(before) {
		t.Errorf("node-2's etcd.yaml was not put back")
	}
	f, err := cluster.Gate(context.Background(), cluster.GateOptions{Timeout: 30 * time.Second, Access: func() cluster.Access {
		var eps []string
		for _, n := range nodes {
			eps = append(eps, n.Endpoint())
		}
		return cluster.Access{Endpoints: eps}
	}})
	if err != nil {
		t.Fatalf("after the rollback the cluster is not healthy: %v", err)
	}
	if m := f.Member("node-2"); m.Phase() != cluster.PhaseHTTP {
		t.Errorf("node-2 after the rollback: phase %s; want 0", m.Phase())
	}
}
