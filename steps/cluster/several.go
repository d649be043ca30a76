package cluster

import (
	"context"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// Several is the cluster behind conn when it has several members, observed within 5
// seconds; nil for a single member or an etcd that does not answer, so that a lone node
// is handled as it always was.
func Several(ctx context.Context, conn etcdconn.Conn) *Facts {
	cfg, err := conn.ClientConfig()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	f, err := Observe(ctx, Access{Endpoints: conn.Endpoints, TLS: cfg.TLS})
	if err != nil || len(f.Members) < 2 {
		return nil
	}
	return f
}
