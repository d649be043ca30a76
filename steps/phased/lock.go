package phased

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// LockKey is the key a node holds in etcd while it restarts its member for a phase, so
// that two nodes applying at the same time never take two members down at once.
const LockKey = "/etcd-harden/rollout-lock"

// lockTTL is how long the lock outlives an apply that was killed.
const lockTTL = 15

// ErrBusy: another node holds the rollout lock.
var ErrBusy = errors.New("another node is restarting its member")

// lock is the rollout lock, held under a lease kept alive through another member.
type lock struct {
	cli   *clientv3.Client
	lease clientv3.LeaseID
	stop  context.CancelFunc
}

// claim takes the rollout lock for node through a member other than node's (its member
// is about to restart), or returns an error wrapping ErrBusy naming the holder.
func claim(ctx context.Context, f *cluster.Facts, node string, tc *tls.Config) (*lock, error) {
	var errs []error
	for _, m := range f.Members {
		if m.Name == node || !m.Up {
			continue
		}
		ep := memberEndpoint(m, tc != nil)
		if ep == "" {
			continue
		}
		l, err := claimAt(ctx, ep, tc, node)
		if err == nil || errors.Is(err, ErrBusy) {
			return l, err
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("take the rollout lock %s through another member: %w", LockKey, errors.Join(errs...))
}

func claimAt(ctx context.Context, ep string, tc *tls.Config, node string) (*lock, error) {
	cfg := clientv3.Config{Endpoints: []string{ep}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()}
	if strings.HasPrefix(ep, "https://") {
		cfg.TLS = tc
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lease, err := cli.Grant(tctx, lockTTL)
	if err != nil {
		cli.Close()
		return nil, fmt.Errorf("%s: %w", ep, err)
	}
	resp, err := cli.Txn(tctx).
		If(clientv3.Compare(clientv3.CreateRevision(LockKey), "=", 0)).
		Then(clientv3.OpPut(LockKey, node, clientv3.WithLease(lease.ID))).
		Else(clientv3.OpGet(LockKey)).Commit()
	if err == nil && !resp.Succeeded {
		holder := ""
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			holder = string(kvs[0].Value)
		}
		if holder == node { // an earlier apply here was killed: take its lock over
			_, err = cli.Put(tctx, LockKey, node, clientv3.WithLease(lease.ID))
		} else {
			err = fmt.Errorf("%w: %s holds %s; run apply here again once that node's apply has finished (the lock ends with it, or %ds after it was killed)", ErrBusy, holder, LockKey, lockTTL)
		}
	}
	if err != nil {
		cli.Revoke(context.WithoutCancel(ctx), lease.ID)
		cli.Close()
		return nil, err
	}
	kctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	ch, err := cli.KeepAlive(kctx, lease.ID)
	if err == nil {
		go func() {
			for range ch {
			}
		}()
	}
	return &lock{cli: cli, lease: lease.ID, stop: stop}, nil
}

// release gives the lock back.
func (l *lock) release() {
	if l == nil {
		return
	}
	l.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	l.cli.Revoke(ctx, l.lease)
	l.cli.Close()
}

// memberEndpoint is the URL to reach m on: https when there is a TLS client, else http.
func memberEndpoint(m cluster.Member, haveTLS bool) string {
	var httpURL string
	for _, u := range m.ClientURLs {
		if strings.HasPrefix(u, "https://") && haveTLS {
			return u
		}
		if strings.HasPrefix(u, "http://") && httpURL == "" {
			httpURL = u
		}
	}
	return httpURL
}
