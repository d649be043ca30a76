package testetcd

import (
	"context"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestStartTLSRefusesClientWithoutCert(t *testing.T) {
	s := Start(t, Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.Client(t).Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put with client cert: %v", err)
	}
	cfg := s.ClientConfig(t)
	cfg.TLS.Certificates, cfg.TLS.GetClientCertificate = nil, nil
	cfg.DialTimeout = 2 * time.Second
	c, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	_, err = c.Get(short, "k")
	if err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if !strings.Contains(err.Error(), "certificate") && !strings.Contains(err.Error(), "deadline") {
		t.Fatalf("unexpected error: %v", err)
	}
}
