package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// startDebianEtcd runs the etcd binary in PATH (Debian's etcd-server 3.4) on loopback with
// mutual TLS, or skips the test when there is none.
func startDebianEtcd(t testing.TB) (*testetcd.Server, clientv3.Config) {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd binary in PATH; apt-get install etcd-server to test against Debian's etcd 3.4")
	}
	dir := t.TempDir()
	tlsFiles := testetcd.NewTLS(t, dir)
	client := fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", testetcd.FreePort(t))
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--name", "deb", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "deb="+peer,
		"--cert-file", tlsFiles.ServerCert, "--key-file", tlsFiles.ServerKey,
		"--trusted-ca-file", tlsFiles.CA, "--client-cert-auth",
		"--logger", "zap", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	srv := &testetcd.Server{Endpoint: client, TLS: tlsFiles, DataDir: filepath.Join(dir, "data")}
	cfg := srv.ClientConfig(t)
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Status(sctx, client)
		scancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 20s: %v\n%s", bin, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return srv, cfg
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
