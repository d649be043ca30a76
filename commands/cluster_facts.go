package commands

import (
	"context"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// clusterChecks returns the cluster-wide checks of a node whose etcd has several
// members (cluster.Checks); nothing when etcd cannot be reached within seconds or has
// one member, so that a single node's audit is as it always was.
func clusterChecks(ctx context.Context, g *globalOptions, st *discover.State) []audit.Check {
	conn, err := etcdconn.Resolve(g.etcd, st)
	if err != nil {
		return nil
	}
	f := cluster.Several(ctx, conn)
	if f == nil {
		return nil
	}
	configFile := ""
	if st.APIServer != nil {
		if _, host, ok, _ := st.APIServer.FlagPath("encryption-provider-config"); ok {
			configFile = host
		}
	}
	return cluster.Checks(f, configFile)
}
