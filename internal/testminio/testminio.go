// Package testminio starts a real MinIO server on loopback for tests, from the `minio`
// binary (`go install github.com/minio/minio@latest`; .ci/run installs it). Tests skip with
// a message when it is not installed. Nothing here is a mock: the server is MinIO's own.
package testminio

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/etcd-harden/etcd-harden/internal/selfexec"
)

// LookBin finds a test binary (minio, age) on PATH or in $(go env GOPATH)/bin; "" when
// it is in neither.
func LookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", name)
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return ""
}

// Binary finds the minio binary on PATH or in $(go env GOPATH)/bin, or skips the test.
func Binary(t testing.TB) string {
	t.Helper()
	if p := LookBin("minio"); p != "" {
		return p
	}
	t.Skip("minio is not installed (go install github.com/minio/minio@latest, about 4 minutes; .ci/run does it): the S3 tests need a real MinIO")
	return ""
}

// Server is a MinIO server on 127.0.0.1 with a root user made for the test.
type Server struct {
	// Endpoint is http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey and SecretKey are the root user's, random for each server.
	AccessKey, SecretKey string
	// Dir holds the server's data; it survives Kill, so Restart finds the same objects.
	Dir     string
	bin     string
	addr    string
	console string
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start starts MinIO on free loopback ports with its data in a temp folder and waits until
// it is ready; t.Cleanup stops it.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{
		bin:       Binary(t),
		Dir:       t.TempDir(),
		AccessKey: "test-" + random(6),
		SecretKey: random(20),
		addr:      fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		console:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
	}
	s.Endpoint = "http://" + s.addr
	s.start(t)
	t.Cleanup(s.Kill)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	cmd := exec.Command(s.bin, "server", "--quiet", "--address", s.addr, "--console-address", s.console, s.Dir)
	cmd.Env = append(os.Environ(),
		"MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey,
		"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
	log, err := os.Create(filepath.Join(t.TempDir(), "minio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	selfexec.SetProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start minio: %v", err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(s.Endpoint + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && s.serves() {
				return
			}
		}
		select {
		case <-s.done:
			out, _ := os.ReadFile(log.Name())
			t.Fatalf("minio exited at start: %s", out)
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.Kill()
	t.Fatal("minio was not ready within 30s")
}

// serves says whether the server answers S3 requests as it will for the tests: after a
// start, MinIO reports ready a moment before its object layer is ("Server not initialized
// yet"), and its root user works a moment before its IAM does, when a stranger's key gets
// XMinioIAMNotInitialized instead of InvalidAccessKeyId and STS refuses to start a session.
func (s *Server) serves() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	root, err := minio.New(s.addr, &minio.Options{Creds: s.RootCreds(), Secure: false})
	if err != nil {
		return false
	}
	if _, err := root.ListBuckets(ctx); err != nil {
		return false
	}
	stranger, err := minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4("not-"+random(6), random(20), ""), Secure: false})
	if err != nil {
		return false
	}
	_, err = stranger.ListBuckets(ctx)
	return minio.ToErrorResponse(err).Code == "InvalidAccessKeyId"
}

// Kill stops the server at once (SIGKILL), as a crash or a pulled cable would.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

// Restart starts the server again on the same address and data folder.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	s.start(t)
}

// Root is a client with the root user's keys.
func (s *Server) Root(t testing.TB) *minio.Client {
	t.Helper()
	return s.client(t, credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""))
}

func (s *Server) client(t testing.TB, c *credentials.Credentials) *minio.Client {
	t.Helper()
	cli, err := minio.New(s.addr, &minio.Options{Creds: c, Secure: false})
	if err != nil {
		t.Fatal(err)
	}
	return cli
}

// RootCreds are the root user's keys.
func (s *Server) RootCreds() *credentials.Credentials {
	return credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")
}

// Bucket makes a bucket with a random name (object lock when asked) and returns its name.
func (s *Server) Bucket(t testing.TB, objectLock bool) string {
	t.Helper()
	name := "test-" + strings.ToLower(random(5))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Root(t).MakeBucket(ctx, name, minio.MakeBucketOptions{ObjectLocking: objectLock}); err != nil {
		t.Fatalf("make bucket %s: %v", name, err)
	}
	return name
}

// ReadOnlyCreds are temporary credentials from MinIO's STS AssumeRole, limited by a
// session policy to listing and reading bucket: a user who may read but not write.
func (s *Server) ReadOnlyCreds(t testing.TB, bucket string) *credentials.Credentials {
	t.Helper()
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
{"Effect":"Allow","Action":["s3:ListBucket","s3:GetBucketLocation","s3:GetBucketVersioning"],"Resource":["arn:aws:s3:::%[1]s"]},
{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%[1]s/*"]}]}`, bucket)
	// A loaded machine can still be finishing MinIO's IAM start: ask again for a while.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := credentials.NewSTSAssumeRole(s.Endpoint, credentials.STSAssumeRoleOptions{
			AccessKey: s.AccessKey, SecretKey: s.SecretKey, Policy: policy, DurationSeconds: 3600,
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.GetWithContext(nil)
		if err == nil {
			return c
		}
		if !strings.Contains(err.Error(), "not initialized") || time.Now().After(deadline) {
			t.Fatalf("STS AssumeRole for a read-only session: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
