package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// TestWrongCACertIsNamed: the step's test checks the connection first and names the
// cause and the flag, before the destination is touched.
func TestWrongCACertIsNamed(t *testing.T) {
	srv := startEtcd(t)
	other := testetcd.NewTLS(t, t.TempDir())
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, nil, prefilled(dest))
	s.Etcd = etcdconn.FromFlags([]string{srv.Endpoint}, other.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
	p := New()
	d := runTUI(t, p, s)
	if p.Ready() || len(d.Errs) != 1 {
		t.Fatalf("ready %v, errors %v", p.Ready(), d.Errs)
	}
	e := d.Errs[0]
	for _, w := range []string{srv.Endpoint, "not signed by the CA", "--cacert (ETCDCTL_CACERT), now " + other.CA} {
		if !strings.Contains(e.What, w) {
			t.Errorf("error %q lacks %q", e.What, w)
		}
	}
	if e.Path != srv.Endpoint || !strings.Contains(e.Fix, "change what the message names") {
		t.Errorf("error view = %+v", e)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("the destination was made before etcd was reached: %v", err)
	}
}
