package testetcd

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// StartDebian runs the etcd binary in PATH (Debian's etcd-server 3.4) on loopback with
// mutual TLS, or skips the test when there is none. opts.QuotaBytes raises its quota;
// opts.Dir holds its data and certificates (a t.TempDir() when empty).
func StartDebian(t testing.TB, opts Options) *Server {
	t.Helper()
	bin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("no etcd binary in PATH; apt-get install etcd-server to test against Debian's etcd 3.4")
	}
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	tlsFiles := NewTLS(t, dir)
	client := fmt.Sprintf("https://127.0.0.1:%d", FreePort(t))
	peer := fmt.Sprintf("http://127.0.0.1:%d", FreePort(t))
	args := []string{"--name", "deb", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "deb=" + peer,
		"--cert-file", tlsFiles.ServerCert, "--key-file", tlsFiles.ServerKey,
		"--trusted-ca-file", tlsFiles.CA, "--client-cert-auth",
		"--logger", "zap", "--log-level", "warn"}
	if opts.QuotaBytes > 0 {
		args = append(args, "--quota-backend-bytes", strconv.FormatInt(opts.QuotaBytes, 10))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start %s: %v", bin, err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	srv := &Server{Endpoint: client, TLS: tlsFiles, DataDir: filepath.Join(dir, "data")}
	cli, err := clientv3.New(srv.ClientConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for deadline := time.Now().Add(20 * time.Second); ; {
		sctx, scancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Status(sctx, client)
		scancel()
		if err == nil {
			return srv
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer within 20s: %v\n%s", bin, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
