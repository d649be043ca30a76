package rollout_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// TestCheckNamesThePlannedFile: the health check's first dial is the connection check; a
// CA that does not match is named with the manifest flag it came from, and no command-line
// flag is offered (apply takes none).
func TestCheckNamesThePlannedFile(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	other := testetcd.NewTLS(t, t.TempDir())
	target := rollout.Target{Endpoint: srv.Endpoint, CAFile: other.CA, CertFile: srv.TLS.ClientCert, KeyFile: srv.TLS.ClientKey,
		Client: "kube-apiserver.yaml --etcd-certfile"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := rollout.Check(ctx, target)
	var e *etcdconn.Error
	if !errors.As(err, &e) || e.Reason != etcdconn.ReasonUnknownAuthority {
		t.Fatalf("Check = %v, want the unknown CA named", err)
	}
	if want := other.CA + " (from kube-apiserver.yaml --etcd-cafile)"; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "--cacert") {
		t.Errorf("%q: want %q and no --cacert", err, want)
	}
	target.CAFile = srv.TLS.CA
	if h, err := rollout.Check(ctx, target); err != nil || h.Members != 1 {
		t.Fatalf("Check with the right CA = %+v, %v", h, err)
	}
}
