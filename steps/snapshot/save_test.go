package snapshot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"os/signal"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestSaveVerify10kKeys(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 10000, 100)
	dest := filepath.Join(t.TempDir(), "backups")
	checks := CheckDest(dest, srv.DataDir, 1<<20)
	if Failed(checks) {
		t.Fatalf("destination checks failed: %+v", checks)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var calls []Progress
	res, err := Save(ctx, srv.ClientConfig(t), dest, "snap", func(p Progress) { calls = append(calls, p) })
	if err != nil {
		t.Fatal(err)
	}
	assertGoodSnapshot(t, dest, res)
	if res.StorageVersion == "" || res.ServerVersion == "" || res.DBSize <= 0 {
		t.Fatalf("result lacks versions, revision or size: %+v", res)
	}
	if len(calls) == 0 || calls[len(calls)-1].Bytes != res.Size || calls[0].Total != res.DBSize {
		t.Fatalf("progress calls %+v do not end at %d bytes", calls, res.Size)
	}
	v, err := VerifyWith(ctx, res.Path, VerifyOptions{Rehearse: true})
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || v.TotalKeys != 10000 || v.RestoredKeys != 10000 || v.Revision < 100 {
		t.Fatalf("verification %+v: want 10000 keys", v)
	}
	if v.StorageVersion == "" || v.StorageVersionText != v.StorageVersion {
		t.Fatalf("etcd 3.7 should report a storage version: %+v", v)
	}
	if len(v.Steps) != 4 {
		t.Fatalf("want 4 steps, got %+v", v.Steps)
	}
	for _, s := range v.Steps {
		if s.Status != StatusPass || s.Took <= 0 {
			t.Fatalf("step %+v did not pass with a timing", s)
		}
	}
	assertGoodSnapshot(t, dest, res) // the rehearsal folder is gone too
}

func TestSaveRefusesExistingSnapshot(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	dest := t.TempDir()
	old := FinalPath(dest, "snap")
	if err := os.WriteFile(old, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Save(context.Background(), srv.ClientConfig(t), dest, "snap", nil)
	assertContains(t, err, old, "already exists", "choose another snapshot name")
	if b, _ := os.ReadFile(old); string(b) != "keep me" {
		t.Fatalf("existing snapshot changed: %q", b)
	}
}

func TestSaveBadInputs(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	other := testetcd.NewTLS(t, t.TempDir()) // a second, unrelated CA and its client pair
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  func() clientv3.Config
		dest string
		want []string
	}{
		{"unreachable endpoint", func() clientv3.Config {
			c := srv.ClientConfig(t)
			c.Endpoints = []string{fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))}
			c.DialTimeout = time.Second
			return c
		}, "", []string{"did not answer a status request within 1s", "connection refused", "check that etcd runs"}},
		{"wrong CA", func() clientv3.Config {
			return tlsConfig(t, srv.Endpoint, other.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
		}, "", []string{"certificate signed by unknown authority", "pass the CA that signed etcd's server certificate"}},
		{"client cert from another CA", func() clientv3.Config {
			return tlsConfig(t, srv.Endpoint, srv.TLS.CA, other.ClientCert, other.ClientKey)
		}, "", []string{"does not trust the client certificate", "--cert and --key"}},
		{"two endpoints", func() clientv3.Config {
			c := srv.ClientConfig(t)
			c.Endpoints = append(c.Endpoints, c.Endpoints[0])
			return c
		}, "", []string{"got 2 endpoints", "pass exactly one --endpoints"}},
		{"destination under a file", func() clientv3.Config { return srv.ClientConfig(t) },
			filepath.Join(notDir, "sub"), []string{"create " + filepath.Join(notDir, "sub", "snap.db.part"), "not a directory", "check --dest is a writable folder"}},
		{"destination /proc (not writable, even for root)", func() clientv3.Config { return srv.ClientConfig(t) },
			"/proc", []string{"create /proc/snap.db.part", "check --dest is a writable folder"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dest := tc.dest
			if dest == "" {
				dest = t.TempDir()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			start := time.Now()
			res, err := Save(ctx, tc.cfg(), dest, "snap", nil)
			if res != nil {
				t.Fatalf("want no result, got %+v", res)
			}
			assertContains(t, err, tc.want...)
			if time.Since(start) > 8*time.Second {
				t.Errorf("took %s to fail", time.Since(start))
			}
			if tc.dest == "" {
				assertEmpty(t, dest)
			} else if _, err := os.Stat(filepath.Join(tc.dest, "snap.db.part")); err == nil {
				t.Fatalf("a .part file was left in %s", tc.dest)
			}
			t.Log(err)
		})
	}
}

func tlsConfig(t *testing.T, endpoint, ca, cert, key string) clientv3.Config {
	t.Helper()
	s := &testetcd.Server{Endpoint: endpoint, TLS: &testetcd.TLS{CA: ca, ClientCert: cert, ClientKey: key}}
	c := s.ClientConfig(t)
	c.DialTimeout = 2 * time.Second
	return c
}

func TestSaveCancelledMidStream(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 200, 16<<10) // about 3 MiB: many chunks
	dest := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var seen int64
	_, err := Save(ctx, srv.ClientConfig(t), dest, "snap", func(p Progress) {
		if seen == 0 {
			seen = p.Bytes
			cancel() // Ctrl-C after the first chunk
		}
	})
	if seen == 0 {
		t.Fatal("progress was never called")
	}
	assertContains(t, err, "stopped after", "removed "+PartPath(dest, "snap"), "nothing was saved")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v does not wrap context.Canceled", err)
	}
	assertEmpty(t, dest)
}

// TestSaveFileSizeLimit runs Save in a child process whose RLIMIT_FSIZE is 256 KiB, as on a
// full disk: write fails with EFBIG (SIGXFSZ ignored), and nothing may be left behind.
func TestSaveFileSizeLimit(t *testing.T) {
	if os.Getenv("SNAPSHOT_FSIZE_CHILD") == "1" {
		fsizeChild(t)
		return
	}
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 100, 16<<10)
	dest := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSaveFileSizeLimit$", "-test.v")
	cmd.Env = append(os.Environ(), "SNAPSHOT_FSIZE_CHILD=1", "SNAPSHOT_ENDPOINT="+srv.Endpoint,
		"SNAPSHOT_CA="+srv.TLS.CA, "SNAPSHOT_CERT="+srv.TLS.ClientCert, "SNAPSHOT_KEY="+srv.TLS.ClientKey,
		"SNAPSHOT_DEST="+dest)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "file too large") {
		t.Fatalf("child output lacks EFBIG:\n%s", out)
	}
	t.Logf("child:\n%s", out)
	assertEmpty(t, dest)
}

func fsizeChild(t *testing.T) {
	signal.Ignore(syscall.SIGXFSZ)
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 256 << 10, Max: 256 << 10}); err != nil {
		t.Fatal(err)
	}
	dest := os.Getenv("SNAPSHOT_DEST")
	cfg := tlsConfig(t, os.Getenv("SNAPSHOT_ENDPOINT"), os.Getenv("SNAPSHOT_CA"), os.Getenv("SNAPSHOT_CERT"), os.Getenv("SNAPSHOT_KEY"))
	_, err := Save(context.Background(), cfg, dest, "snap", nil)
	assertContains(t, err, "write "+PartPath(dest, "snap"), "file too large", "the destination is full", "the partial file was removed")
	if !errors.Is(err, syscall.EFBIG) {
		t.Fatalf("error %v does not wrap EFBIG", err)
	}
	t.Log(err)
}

func TestSaveRefusesPathAsName(t *testing.T) {
	dest := t.TempDir()
	for _, name := range []string{"", "../escape", "a/b", ".."} {
		_, err := Save(context.Background(), clientv3.Config{Endpoints: []string{"https://127.0.0.1:1"}}, dest, name, nil)
		assertContains(t, err, "is not a plain file name")
	}
	assertEmpty(t, dest)
	assertEmpty(t, filepath.Dir(dest)+"/escape")
}
