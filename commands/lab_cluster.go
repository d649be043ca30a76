package commands

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/ui"
)

// clusterLabFlags are the flags of `lab` for a cluster of several members.
type clusterLabFlags struct {
	members int
	node    string
}

func (f *clusterLabFlags) register(cmd *cobra.Command) {
	cmd.Flags().IntVar(&f.members, "members", 1, "etcd members: 1, or 3 or 5 control-plane nodes (node-1 … under the lab's folder, on 127.0.0.11 …)")
	cmd.Flags().StringVar(&f.node, "node", "node-1", "With --members 3 or 5: the node the wizard runs on")
}

// runClusterLab starts a cluster lab and runs the wizard on one of its nodes; the other
// nodes are hardened from other shells with --root <lab>/node-N, as on real nodes.
func runClusterLab(ctx context.Context, g *globalOptions, opts lab.Options, f clusterLabFlags, in io.Reader, out, errOut io.Writer) (err error) {
	if f.members < 1 || f.members > lab.MaxMembers || f.members%2 == 0 {
		return &usageError{fmt.Errorf("--members %d: give 1, 3 or 5 (an etcd cluster has an odd number of members)", f.members)}
	}
	if err := g.checkAnswers(); err != nil {
		return err
	}
	log := &labLog{w: errOut}
	opts.Log = log.line
	c, err := lab.StartCluster(ctx, opts, f.members)
	if err != nil {
		return fmt.Errorf("starting the cluster lab: %w", err)
	}
	defer stopLab(errOut, log, c, opts.Keep, func() { printClusterEnv(errOut, c, "at exit") }, &err)
	node, err := c.Node(f.node)
	if err != nil {
		return &usageError{fmt.Errorf("--node: %w", err)}
	}
	fmt.Fprintf(errOut, "lab: cluster root %s (%d nodes)\nlab: %d Secrets seeded\n", c.Root(), f.members, c.Seeded().Secrets)
	printClusterEnv(errOut, c, "now")
	fmt.Fprintln(errOut, "lab: or from another shell: eval \"$(etcd-harden lab env --dir "+shellQuote(c.Root())+")\"")
	fmt.Fprintf(errOut, "lab: the wizard runs on %s; harden the other nodes from another shell, e.g. etcd-harden --root %s (give node-1's bundle at the cluster question), or etcd-harden plan --root %s --bundle <node-1's plan>/bundle --out DIR\n",
		f.node, shellQuote(filepath.Join(c.Root(), "node-2")), shellQuote(filepath.Join(c.Root(), "node-2")))
	g.root = node.Root()
	if err := g.resolve(); err != nil {
		return err
	}
	o, err := g.uiOptions(in, out)
	if err != nil {
		return err
	}
	log.hold()
	o.Lab = node
	return ui.Run(ctx, o)
}

// printClusterEnv prints every member's endpoint and the etcdctl variables for the
// whole cluster, read from the nodes' manifests as they are now.
func printClusterEnv(w io.Writer, c *lab.Cluster, when string) {
	for _, n := range c.Nodes() {
		if pid := n.PID(); pid != 0 {
			fmt.Fprintf(w, "lab: %s %s answers on %s (pid %d)\n", when, filepath.Base(n.Root()), n.Endpoint(), pid)
		} else {
			fmt.Fprintf(w, "lab: %s %s is not running\n", when, filepath.Base(n.Root()))
		}
	}
	printConfigSums(w, c, when)
	env, err := c.Env()
	if err != nil {
		fmt.Fprintf(w, "lab: %s: %v\n", when, err)
		return
	}
	fmt.Fprintln(w, "lab: for etcdctl, the whole cluster:")
	for _, e := range env {
		name, value, _ := strings.Cut(e, "=")
		fmt.Fprintf(w, "  export %s=%s\n", name, shellQuote(value))
	}
}

// printConfigSums prints the sha256 of each node's encryption config, so that the
// nodes can be compared: every kube-apiserver of a cluster needs the same one.
func printConfigSums(w io.Writer, c *lab.Cluster, when string) {
	sums := map[string]bool{}
	var lines []string
	for _, n := range c.Nodes() {
		api, err := discover.ReadManifest(n.Root(), filepath.Join(n.Root(), filepath.FromSlash(lab.APIServerFile)), discover.APIServerBinary)
		if err != nil {
			continue
		}
		_, host, ok, _ := api.FlagPath("encryption-provider-config")
		if !ok {
			continue
		}
		sum, err := cluster.FileSHA256(host)
		if err != nil {
			sum = "unreadable: " + err.Error()
		}
		sums[sum] = true
		lines = append(lines, fmt.Sprintf("lab: %s %s encryption config sha256 %s", when, filepath.Base(n.Root()), sum))
	}
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	if len(lines) > 1 && len(sums) > 1 {
		fmt.Fprintf(w, "lab: %s the nodes' encryption configs differ: every kube-apiserver of a cluster needs the same one\n", when)
	}
}
