package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// MaxMembers bounds ClusterOptions.Members: an etcd cluster has an odd number of
// members, and more than five proves nothing the lab needs.
const MaxMembers = 5

// ClusterFile is the cluster lab's state file, at the cluster's root (each node keeps its
// own StateFile under its own folder).
const ClusterFile = "cluster.json"

// NodeIP returns the loopback address of node i (1-based) of a cluster lab: 127.0.0.11
// for node-1, 127.0.0.12 for node-2, … so that each member's certificates need their
// own address as a SAN, as on real nodes.
func NodeIP(i int) string { return fmt.Sprintf("127.0.0.%d", 10+i) }

// NodeDirName returns the name of node i (1-based): its folder under the cluster root
// and its etcd --name.
func NodeDirName(i int) string { return fmt.Sprintf("node-%d", i) }

// Cluster is a running cluster lab: one kubeadm-like root per node (node-1 … node-N
// under the cluster's root), each with its own etcd.yaml, and one real etcd member per
// node run from it, all forming one cluster over plain http peers as an unhardened
// kubeadm cluster would. Each node is a *Lab of its own (its Root is the --root of the
// commands run "on" that node); each member is restarted like a kubelet would when its
// manifest changes or its process dies.
type Cluster struct {
	root     string
	keep     bool
	registry string
	log      func(string)
	nodes    []*Lab
	seeded   Seeded
	started  time.Time

	closeOnce sync.Once
	closeErr  error
}

// ClusterState is the cluster lab's state file (ClusterFile at its root).
type ClusterState struct {
	PID     int       `json:"pid"` // the lab process
	Root    string    `json:"root"`
	Nodes   []string  `json:"nodes"` // node folder names, in order
	Started time.Time `json:"started"`
	Stopped time.Time `json:"stopped,omitzero"`
}

// StartCluster lays out members node folders under opts.Dir (or a new temp folder),
// starts one etcd member per node from its etcd.yaml, all at once so that they can
// elect a leader, waits until each answers, seeds the cluster as Start seeds one etcd,
// and records the cluster in the registry. members must be 3 or 5 (use Start for one).
func StartCluster(ctx context.Context, opts Options, members int) (c *Cluster, err error) {
	if members < 2 || members > MaxMembers || members%2 == 0 {
		return nil, fmt.Errorf("--members %d: give 1, 3 or 5 (an etcd cluster has an odd number of members)", members)
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	root, err := makeRoot(opts.Dir)
	if err != nil {
		return nil, err
	}
	c = &Cluster{root: root, keep: opts.Keep, registry: opts.RegistryDir, log: opts.Log, started: time.Now()}
	self := c
	defer func() {
		if err != nil {
			self.Close()
		}
	}()
	command := opts.EtcdCommand
	ports := make([]Ports, members)
	for i := range ports {
		if ports[i], err = freePortsOn(NodeIP(i+1), "a cluster lab member (Linux answers on all of 127.0.0.0/8)"); err != nil {
			return nil, err
		}
	}
	var initial []string
	for i, p := range ports {
		initial = append(initial, fmt.Sprintf("%s=http://%s:%d", NodeDirName(i+1), NodeIP(i+1), p.Peer))
	}
	var caPEM []byte
	for i, p := range ports {
		nodeRoot := filepath.Join(root, NodeDirName(i+1))
		if caPEM, err = layoutNode(nodeRoot, i+1, p, strings.Join(initial, ","), caPEM); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, c.newNode(nodeRoot, NodeDirName(i+1), command, opts))
	}
	c.log(fmt.Sprintf("cluster lab laid out in %s: %d nodes on %s … %s", root, members, NodeIP(1), NodeIP(members)))
	// Every member must be up before any answers /health (a leader needs a quorum): start
	// them together.
	errs := make([]error, members)
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Go(func() { errs[i] = n.startRunner(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("start the cluster lab's etcd members: %w", err)
	}
	cli, err := c.Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	if c.seeded, err = Seed(ctx, cli, count(opts.Secrets, DefaultSecrets), count(opts.ConfigMaps, DefaultConfigMaps), caPEM); err != nil {
		return nil, err
	}
	c.log(fmt.Sprintf("seeded %d Secrets and %d ConfigMaps in plaintext under /registry/", c.seeded.Secrets, c.seeded.ConfigMaps))
	for _, n := range c.nodes {
		n.seeded = c.seeded
		if err := n.writeState(); err != nil {
			return nil, err
		}
	}
	if err := c.writeState(time.Time{}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.registry, 0o700); err != nil {
		return nil, fmt.Errorf("record the running lab in %s: %w", c.registry, err)
	}
	if err := atomicfile.Write(filepath.Join(c.registry, "current"), []byte(root+"\n"), 0o600, atomicfile.Options{}); err != nil {
		return nil, err
	}
	return c, nil
}

// layoutNode lays out node i's root as Layout does, then gives its manifests the node's
// name, its own address and the whole cluster in --initial-cluster. caPEM, when not
// nil, is the Kubernetes CA of the first node: every node of a cluster shares it.
func layoutNode(root string, i int, p Ports, initialCluster string, caPEM []byte) ([]byte, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("make the node folder: %w", err)
	}
	own, err := Layout(root, p)
	if err != nil {
		return nil, err
	}
	ip, name := NodeIP(i), NodeDirName(i)
	for _, rel := range []string{EtcdManifest, APIServerFile} {
		path := filepath.Join(root, filepath.FromSlash(rel))
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s := string(data)
		for _, port := range []int{p.Client, p.Peer, p.Metrics} {
			s = strings.ReplaceAll(s, fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("%s:%d", ip, port))
		}
		s = strings.ReplaceAll(s, fmt.Sprintf("- --initial-cluster=%s=http://%s:%d", NodeName, ip, p.Peer),
			"- --initial-cluster="+initialCluster+"\n    - --initial-cluster-state=new\n    - --initial-cluster-token=etcd-harden-lab")
		s = strings.ReplaceAll(s, "--name="+NodeName, "--name="+name)
		s = strings.ReplaceAll(s, "advertise-address=127.0.0.1", "advertise-address="+ip)
		s = strings.ReplaceAll(s, "advertise-address.endpoint: 127.0.0.1:", "advertise-address.endpoint: "+ip+":")
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			return nil, fmt.Errorf("write the node's manifest: %w", err)
		}
	}
	if caPEM == nil {
		return own, nil
	}
	ca := filepath.Join(root, PKIDir)
	first := filepath.Join(filepath.Dir(root), NodeDirName(1), PKIDir)
	for f, mode := range map[string]os.FileMode{"ca.crt": 0o644, "ca.key": 0o600} {
		data, err := os.ReadFile(filepath.Join(first, f))
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(ca, f), data, mode); err != nil {
			return nil, fmt.Errorf("give the node the cluster's Kubernetes CA: %w", err)
		}
	}
	return caPEM, nil
}

// newNode makes the Lab of one node; startRunner starts its member.
func (c *Cluster) newNode(root, name string, command func([]string) *exec.Cmd, opts Options) *Lab {
	l := &Lab{root: root, keep: true, registry: c.registry, events: make(chan Event, 64), loopDone: make(chan struct{}), started: c.started}
	l.log = func(s string) { c.log(name + ": " + s) }
	l.newRunner(command, orDefault(opts.ReadyTimeout, 30*time.Second))
	return l
}

// startRunner starts the node's member from its etcd.yaml, waits until it answers, and
// runs its kubelet loop until Close.
func (l *Lab) startRunner(ctx context.Context) error {
	if err := l.startEtcd(ctx, false); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(l.root), err)
	}
	return nil
}

// Root returns the cluster's root folder, which holds one folder per node.
func (c *Cluster) Root() string { return c.root }

// Nodes returns the labs of the nodes, node-1 first.
func (c *Cluster) Nodes() []*Lab { return c.nodes }

// Node returns the lab of the node named name ("node-2"), or an error naming the nodes.
func (c *Cluster) Node(name string) (*Lab, error) {
	for _, n := range c.nodes {
		if filepath.Base(n.root) == name {
			return n, nil
		}
	}
	return nil, fmt.Errorf("the cluster lab has no node %q; its nodes are %s", name, strings.Join(c.names(), ", "))
}

func (c *Cluster) names() []string {
	var out []string
	for _, n := range c.nodes {
		out = append(out, filepath.Base(n.root))
	}
	return out
}

// Seeded returns what StartCluster seeded.
func (c *Cluster) Seeded() Seeded { return c.seeded }

// Env returns the ETCDCTL_* variables for the whole cluster as it is now: every
// member's endpoint, and the first node's client pair once the nodes serve https.
func (c *Cluster) Env() ([]string, error) { return clusterEnv(c.root, c.names()) }

// Conn is how to reach every member as the cluster is now (see Env).
func (c *Cluster) Conn() (etcdconn.Conn, error) {
	env, err := c.Env()
	if err != nil {
		return etcdconn.Conn{}, err
	}
	return connOf(env), nil
}

// Client returns a checked client with every member's endpoint; the caller closes it.
func (c *Cluster) Client() (*clientv3.Client, error) {
	conn, err := c.Conn()
	return checkedClient(conn, err, "the cluster lab's etcd")
}

func connOf(env []string) etcdconn.Conn {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return etcdconn.FromFlags(strings.Split(vars["ETCDCTL_ENDPOINTS"], ","), vars["ETCDCTL_CACERT"], vars["ETCDCTL_CERT"], vars["ETCDCTL_KEY"])
}

// clusterEnv joins the nodes' variables: the endpoints of all, the TLS files of the
// first node that has them.
func clusterEnv(root string, nodes []string) ([]string, error) {
	var endpoints, files []string
	for _, n := range nodes {
		env, err := envFromRoot(filepath.Join(root, n))
		if err != nil {
			return nil, err
		}
		endpoints = append(endpoints, strings.TrimPrefix(env[0], "ETCDCTL_ENDPOINTS="))
		if len(files) == 0 {
			files = env[1:]
		}
	}
	return append([]string{"ETCDCTL_ENDPOINTS=" + strings.Join(endpoints, ",")}, files...), nil
}

// Close stops every member (together), removes the registry pointer, and removes the
// root unless Keep. Safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, n := range c.nodes {
			wg.Go(func() { n.closeNode() })
		}
		wg.Wait()
		p := filepath.Join(c.registry, "current")
		if data, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(data)) == c.root {
			os.Remove(p)
		}
		if c.keep {
			c.closeErr = c.writeState(time.Now())
			c.log("lab stopped; its tree is kept in " + c.root)
			return
		}
		if err := os.RemoveAll(c.root); err != nil {
			c.closeErr = fmt.Errorf("remove the lab folder %s: %w", c.root, err)
		}
	})
	return c.closeErr
}

// closeNode stops one node's member and marks its state stopped.
func (l *Lab) closeNode() {
	l.closeOnce.Do(func() {
		if l.cancel != nil {
			l.cancel()
			<-l.loopDone
		}
		l.r.stop()
		close(l.events)
		l.closeErr = l.writeStateAt(time.Now())
	})
}

func (c *Cluster) writeState(stopped time.Time) error {
	s := ClusterState{PID: os.Getpid(), Root: c.root, Nodes: c.names(), Started: c.started, Stopped: stopped}
	data, _ := json.MarshalIndent(s, "", "  ")
	return atomicfile.Write(filepath.Join(c.root, ClusterFile), append(data, '\n'), 0o644, atomicfile.Options{})
}

// readClusterState reads ClusterFile at root; fs.ErrNotExist when root is no cluster.
func readClusterState(root string) (ClusterState, error) {
	var s ClusterState
	data, err := os.ReadFile(filepath.Join(root, ClusterFile))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %w", ClusterFile, err)
	}
	return s, nil
}

// EnvForNode is EnvFor that knows cluster labs: for the lab in dir (or the one started
// last), the variables of the whole cluster with node empty, or of one node ("node-2").
// A one-member lab has no nodes: a node name is refused there.
func EnvForNode(dir, node string) ([]string, error) {
	root, err := findRoot(dir)
	if err != nil {
		return nil, err
	}
	s, err := readClusterState(root)
	if errors.Is(err, fs.ErrNotExist) {
		if node != "" {
			return nil, &labError{ErrNotLabFolder, fmt.Sprintf("--node %s: the lab in %s has one member and no nodes; start one with `etcd-harden lab --members 3`", node, root)}
		}
		return EnvFor(dir)
	}
	if err != nil {
		return nil, &labError{ErrNotLabFolder, fmt.Sprintf("%s: the cluster lab's state file is damaged (%v); start a new lab with `etcd-harden lab --members 3`", root, err)}
	}
	switch {
	case !s.Stopped.IsZero():
		return nil, &labError{ErrNoLab, fmt.Sprintf("the lab in %s is not running: it stopped at %s and its files were kept; start one with `etcd-harden lab --members 3`", root, s.Stopped.Local().Format(time.DateTime))}
	case !alive(s.PID):
		return nil, &labError{ErrNoLab, fmt.Sprintf("the lab in %s is not running: its process (pid %d) has ended; start one with `etcd-harden lab --members 3`", root, s.PID)}
	}
	if node == "" {
		return clusterEnv(root, s.Nodes)
	}
	for _, n := range s.Nodes {
		if n == node {
			return envFromRoot(filepath.Join(root, n))
		}
	}
	return nil, &labError{ErrNotLabFolder, fmt.Sprintf("--node %s: the lab in %s has no such node; its nodes are %s", node, root, strings.Join(s.Nodes, ", "))}
}
