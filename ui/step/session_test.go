package step_test

import (
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// TestSessionConnFollowsTheManifests: the session's connection is the command line's
// settings over the manifests as the session last read them, so that after an apply
// (which reads them again) it is the one they configure now.
func TestSessionConnFollowsTheManifests(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	s := steptest.Session(t, root, nil)
	c, err := s.Conn()
	if err != nil || c.Endpoint() != "http://127.0.0.1:2379" || c.Cert != "" {
		t.Fatalf("Conn before hardening = %+v, %v", c, err)
	}

	steptest.Manifests(t, root, "hardened")
	st, err := discover.Load(s.Layout)
	if err != nil {
		t.Fatal(err)
	}
	s.State = st
	c, err = s.Conn()
	if err != nil || c.Endpoint() != "https://127.0.0.1:2379" || c.CACertFrom != "kube-apiserver.yaml --etcd-cafile" {
		t.Fatalf("Conn after hardening = %+v, %v", c, err)
	}

	s.Etcd = etcdconn.FromFlags(nil, "", "/x/me.crt", "/x/me.key")
	c, err = s.Conn()
	if err != nil || c.Cert != "/x/me.crt" || c.CertFrom != etcdconn.FromCertFlag || c.Endpoint() != "https://127.0.0.1:2379" {
		t.Fatalf("Conn with --cert and --key = %+v, %v", c, err)
	}
}
