package snapshot

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startDebianEtcd runs Debian's etcd 3.4 with mutual TLS, or skips the test.
func startDebianEtcd(t testing.TB) (*testetcd.Server, clientv3.Config) {
	t.Helper()
	srv := testetcd.StartDebian(t, testetcd.Options{})
	return srv, srv.ClientConfig(t)
}

func TestSaveVerifyDebianEtcd34(t *testing.T) {
	srv, cfg := startDebianEtcd(t)
	cli := srv.Client(t)
	fill(t, cli, 2000, 100)
	dest := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Save(ctx, cfg, dest, "snap", nil)
	if err != nil {
		t.Fatal(err)
	}
	assertGoodSnapshot(t, dest, res)
	if res.StorageVersion != "" || res.ServerVersion[:4] != "3.4." {
		t.Fatalf("etcd 3.4: want server version 3.4.x and no storage version, got %+v", res)
	}
	v, err := VerifyWith(ctx, res.Path, VerifyOptions{Rehearse: true})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.TotalKeys != 2000 || v.RestoredKeys != 2000 {
		t.Fatalf("verification %+v: want 2000 keys", v)
	}
	if v.StorageVersion != "" || v.StorageVersionText != NoStorageVersion {
		t.Fatalf("storage version: %q / %q, want absent / %q", v.StorageVersion, v.StorageVersionText, NoStorageVersion)
	}
	t.Logf("etcd %s: %d bytes, revision %d, storage version %s", res.ServerVersion, res.Size, v.Revision, v.StorageVersionText)
	assertGoodSnapshot(t, dest, res)
}

// TestHashFileEqualsHashKVDebianEtcd34: the hash computed over the file equals the one
// Debian's etcd 3.4 gives, after updates, deletes and a compaction.
func TestHashFileEqualsHashKVDebianEtcd34(t *testing.T) {
	srv, cfg := startDebianEtcd(t)
	cli := srv.Client(t)
	compact := history(t, cli)
	res := assertSameHashes(t, cli, cfg, srv.Endpoint, compact)
	kv, err := HashFile(res.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := HashFile(tamper(t, res.Path), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c := CompareContent(context.Background(), srv.Endpoint, tk, MemberHashKV(cfg)); c.Status != StatusFail {
		t.Fatalf("a tampered snapshot gave %+v, want a mismatch", c)
	}
	r, err := cli.Put(context.Background(), "/registry/later", "y")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(context.Background(), r.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	if c := CompareContent(context.Background(), srv.Endpoint, kv, MemberHashKV(cfg)); c.Status != StatusWarn || !strings.Contains(c.Reason, "no longer hashes") {
		t.Fatalf("compacted after the save: %+v, want not comparable", c)
	}
}
