package ui

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// TestScanStatusNamesTheConnectionProblem: the status scan after an apply goes through
// the connection check, so a client pair etcd does not trust is named, not waited out.
func TestScanStatusNamesTheConnectionProblem(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	s := steptest.Session(t, steptest.Root(t, "hardened"), nil)
	other := testetcd.NewTLS(t, t.TempDir())
	s.Etcd = etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, other.ClientCert, other.ClientKey)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := scanStatus(ctx, s)
	var e *etcdconn.Error
	if !errors.As(err, &e) || e.Reason != etcdconn.ReasonClientUntrusted || !strings.Contains(err.Error(), "--cert and --key") {
		t.Fatalf("scanStatus = %v, want the refused client certificate named", err)
	}
}
