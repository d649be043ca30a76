package encryption

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// Scan is the status scan as every door runs it (encryption status, plan, the wizard):
// etcd is reached through conn's one connection check, which names a wrong endpoint or
// TLS file in seconds, and timeout bounds the scan itself; running out of it is said in
// words, with the flag.
func Scan(ctx context.Context, conn etcdconn.Conn, resources []string, cfg *Config, timeout time.Duration) (*StatusReport, error) {
	cli, err := conn.Client(ctx)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	report, err := Status(tctx, cli, resources, cfg, nil)
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded):
		return nil, fmt.Errorf("scanning etcd at %s did not finish within --timeout %s (%w); raise --timeout, or scan fewer --resources", conn.Endpoint(), timeout, err)
	case err != nil:
		return nil, fmt.Errorf("scanning etcd at %s: %w", conn.Endpoint(), err)
	}
	return report, nil
}

// Scanner is planning's scan of the keys etcd's values were written with
// (Options.ScanEtcd), as `plan` and the wizard run it: conn says how to reach etcd when
// the scan runs, and a minute bounds the scan.
func Scanner(ctx context.Context, conn func() (etcdconn.Conn, error)) func([]string) (*StatusReport, error) {
	return func(resources []string) (*StatusReport, error) {
		c, err := conn()
		if err != nil {
			return nil, err
		}
		return Scan(ctx, c, resources, nil, time.Minute)
	}
}
