package offsite

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/etcd-harden/etcd-harden/internal/testminio"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		in     string
		want   Target
		errHas string
	}{
		{"s3://backups", Target{Bucket: "backups"}, ""},
		{"s3://backups/", Target{Bucket: "backups"}, ""},
		{"s3://backups/etcd/prod/", Target{Bucket: "backups", Prefix: "etcd/prod"}, ""},
		{"/var/backups", Target{}, "not an s3://"},
		{"s3://", Target{}, "bucket"},
		{"s3://Bad_Bucket/x", Target{}, "bucket"},
		{"s3://b-1/a/../b", Target{}, "clean path"},
		{"s3://b-1/a?x=1", Target{}, "plain path"},
	} {
		got, err := ParseURL(tc.in)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.errHas)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	if k := (Target{Bucket: "b", Prefix: "p/q"}).Key("x.db"); k != "p/q/x.db" {
		t.Fatal(k)
	}
}

// open opens a store on srv's bucket under prefix with creds (root's when nil).
func open(t *testing.T, srv *testminio.Server, bucket, prefix string, creds *credentials.Credentials) *Store {
	t.Helper()
	if creds == nil {
		creds = srv.RootCreds()
	}
	s, err := Open(Config{Endpoint: srv.Endpoint, Creds: creds, NoInstanceRole: true, MaxRetries: 1}, Target{Bucket: bucket, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// keys lists every object key in bucket, for "nothing left behind".
func keys(t *testing.T, srv *testminio.Server, bucket string) []string {
	t.Helper()
	var out []string
	for o := range srv.Root(t).ListObjects(ctx(t), bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

func statuses(cs []snapshot.Check) map[string]snapshot.Status {
	m := map[string]snapshot.Status{}
	for _, c := range cs {
		m[c.Name] = c.Status
	}
	return m
}

func TestCheckDest(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	s := open(t, srv, bucket, "etcd/prod", nil)
	cs := s.CheckDest(ctx(t))
	st := statuses(cs)
	if st[CheckBucket] != snapshot.StatusPass || st[CheckProbe] != snapshot.StatusPass || st[CheckVersioning] != snapshot.StatusWarn ||
		st[CheckLock] != snapshot.StatusPass || st[CheckLifecycle] != snapshot.StatusPass || snapshot.Failed(cs) {
		t.Fatalf("checks: %+v", cs)
	}
	if k := keys(t, srv, bucket); len(k) != 0 {
		t.Fatalf("the probe left %v", k)
	}
	// Versioning on and a lifecycle rule over the prefix are reported.
	root := srv.Root(t)
	if err := root.EnableVersioning(ctx(t), bucket); err != nil {
		t.Fatal(err)
	}
	lc := lifecycle.NewConfiguration()
	lc.Rules = []lifecycle.Rule{{ID: "old-etcd", Status: "Enabled", RuleFilter: lifecycle.Filter{Prefix: "etcd/"},
		Expiration: lifecycle.Expiration{Days: 30}}}
	if err := root.SetBucketLifecycle(ctx(t), bucket, lc); err != nil {
		t.Fatal(err)
	}
	cs = s.CheckDest(ctx(t))
	for _, c := range cs {
		switch c.Name {
		case CheckVersioning:
			if c.Status != snapshot.StatusPass || !strings.Contains(c.Message, "versioning is on") {
				t.Fatalf("versioning: %+v", c)
			}
		case CheckLifecycle:
			if !strings.Contains(c.Message, "rule old-etcd expires objects after 30 days") {
				t.Fatalf("lifecycle: %+v", c)
			}
		}
	}
	// Object lock with a default retention is reported.
	locked := srv.Bucket(t, true)
	days, mode := uint(1), minio.Governance
	unit := minio.Days
	if err := root.SetObjectLockConfig(ctx(t), locked, &mode, &days, &unit); err != nil {
		t.Fatal(err)
	}
	for _, c := range open(t, srv, locked, "", nil).CheckDest(ctx(t)) {
		if c.Name == CheckLock && !strings.Contains(c.Message, "object lock is on") {
			t.Fatalf("object lock: %+v", c)
		}
	}
}

func TestCheckDestFailures(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	down := fmt.Sprintf("http://127.0.0.1:%d", freeLoopbackPort(t))
	for _, tc := range []struct {
		name   string
		store  func() *Store
		is     error
		has    []string
		hasnot string
	}{
		{"bucket missing", func() *Store { return open(t, srv, "no-such-bucket", "p", nil) },
			ErrNoBucket, []string{`bucket "no-such-bucket"`, "aws s3 mb s3://no-such-bucket"}, ""},
		{"wrong secret key", func() *Store {
			return open(t, srv, bucket, "p", credentials.NewStaticV4(srv.AccessKey, "wrong-secret-key-1234", ""))
		}, ErrBadCredentials, []string{"secret key does not match", "…" + srv.AccessKey[len(srv.AccessKey)-4:]}, "wrong-secret-key-1234"},
		{"unknown key id", func() *Store {
			return open(t, srv, bucket, "p", credentials.NewStaticV4("AKIANOBODY1234", srv.SecretKey, ""))
		}, ErrBadCredentials, []string{"does not know the access key ID …1234"}, srv.SecretKey},
		{"read-only user", func() *Store { return open(t, srv, bucket, "p", srv.ReadOnlyCreds(t, bucket)) },
			ErrDenied, []string{"s3:PutObject", "s3://" + bucket + "/p/.etcd-harden-probe-"}, ""},
		{"endpoint down", func() *Store {
			s, err := Open(Config{Endpoint: down, Creds: srv.RootCreds(), MaxRetries: 1}, Target{Bucket: bucket})
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, ErrUnreachable, []string{down, "connection refused", "--s3-endpoint"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			cs := tc.store().CheckDest(ctx(t))
			if !snapshot.Failed(cs) {
				t.Fatalf("checks passed: %+v", cs)
			}
			last := cs[len(cs)-1]
			for _, h := range tc.has {
				if !strings.Contains(last.Message, h) {
					t.Fatalf("message %q lacks %q", last.Message, h)
				}
			}
			if tc.hasnot != "" && strings.Contains(last.Message+last.Fix, tc.hasnot) {
				t.Fatalf("message shows a secret: %q", last.Message)
			}
			if last.Fix == "" {
				t.Fatalf("no fix: %+v", last)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Fatalf("took %s", d)
			}
			if k := keys(t, srv, bucket); len(k) != 0 {
				t.Fatalf("left %v", k)
			}
		})
	}
}

func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// randomFile writes n random bytes and returns the path and their hex sha256.
func randomFile(t *testing.T, dir, name string, n int) (string, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rand.Reader, int64(n))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p, hex.EncodeToString(h.Sum(nil))
}

func TestPutReadBackAndPrune(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	s := open(t, srv, bucket, "etcd", nil)
	dir := t.TempDir()
	path, sum := randomFile(t, dir, "x", 40<<20) // three parts
	meta := Meta{Revision: 42, ClusterID: "cafe", SHA256: sum, PlainSHA256: sum}
	var last int64
	up, err := s.Put(ctx(t), "etcd-snapshot-20260101T000000Z.db", path, meta, func(sent, total int64) { last = sent })
	if err != nil {
		t.Fatal(err)
	}
	if up.Size != 40<<20 || last != up.Size || up.Key != "etcd/etcd-snapshot-20260101T000000Z.db" || up.Checksum == "" {
		t.Fatalf("upload %+v, progress %d", up, last)
	}
	obj, ours, err := s.Stat(ctx(t), up.Key)
	if err != nil || !ours || obj.Meta.Revision != 42 || obj.Meta.SHA256 != sum || obj.Size != up.Size {
		t.Fatalf("stat %+v ours=%v %v", obj, ours, err)
	}
	if _, err := s.ReadBack(ctx(t), up, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx(t), "etcd-snapshot-20260101T000000Z.db", path, meta, nil); !errors.Is(err, ErrExists) {
		t.Fatalf("second put: %v", err)
	}

	// The store gives back other bytes: the read-back says so.
	small, _ := randomFile(t, dir, "small", 1000)
	root := srv.Root(t)
	if _, err := root.FPutObject(ctx(t), bucket, up.Key, small, minio.PutObjectOptions{UserMetadata: meta.userMetadata()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadBack(ctx(t), up, nil); err == nil || !strings.Contains(err.Error(), "1000 bytes") {
		t.Fatalf("read-back of a changed object: %v", err)
	}

	// Pruning keeps the newest of this cluster's and touches nothing else.
	put := func(name string, m map[string]string) {
		t.Helper()
		if _, err := root.PutObject(ctx(t), bucket, "etcd/"+name, bytes.NewReader([]byte("x")), 1, minio.PutObjectOptions{UserMetadata: m}); err != nil {
			t.Fatal(err)
		}
	}
	ourMeta := meta.userMetadata()
	other := Meta{ClusterID: "beef"}.userMetadata()
	for _, n := range []string{"etcd-snapshot-20260102T000000Z.db.age", "etcd-snapshot-20260103T000000Z.db.age", "etcd-snapshot-20251231T000000Z.db.age"} {
		put(n, ourMeta)
	}
	put("etcd-snapshot-20200101T000000Z.db", nil)         // same pattern, not ours
	put("etcd-snapshot-20200102T000000Z.db", other)       // another cluster's
	put("notes.txt", ourMeta)                             // another name
	put("etcd-snapshot-20200103T000000Z.db.bak", ourMeta) // another name
	put("sub/etcd-snapshot-20200104T000000Z.db", ourMeta) // deeper
	p, err := s.Prune(ctx(t), "cafe", 2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Removed, ",") != "etcd/etcd-snapshot-20260101T000000Z.db,etcd/etcd-snapshot-20251231T000000Z.db.age" ||
		strings.Join(p.Kept, ",") != "etcd/etcd-snapshot-20260103T000000Z.db.age,etcd/etcd-snapshot-20260102T000000Z.db.age" {
		t.Fatalf("pruned %+v", p)
	}
	left := strings.Join(keys(t, srv, bucket), ",")
	for _, k := range []string{"20200101", "20200102", "notes.txt", ".db.bak", "sub/"} {
		if !strings.Contains(left, k) {
			t.Fatalf("prune removed %s: left %s", k, left)
		}
	}
}

// The server dies in the middle of a multipart upload: nothing appears under the final
// name, and the incomplete upload it leaves is listed and then cleaned.
func TestServerKilledMidUpload(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	s := open(t, srv, bucket, "etcd", nil)
	path, sum := randomFile(t, t.TempDir(), "x", 80<<20)
	killed := false
	name := "etcd-snapshot-20260101T000000Z.db.age"
	_, err := s.Put(ctx(t), name, path, Meta{ClusterID: "cafe", SHA256: sum}, func(sent, total int64) {
		if sent >= 2*PartSize && !killed {
			killed = true
			srv.Kill()
		}
	})
	if !killed || err == nil || !strings.Contains(err.Error(), "nothing is under that name") || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("killed=%v, err=%v", killed, err)
	}
	t.Log(err)
	srv.Restart(t)
	if _, _, err := s.Stat(ctx(t), "etcd/"+name); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after the kill, stat of the final name: %v", err)
	}
	// MinIO lists incomplete uploads by exact key only: the run remembers the key.
	key := "etcd/" + name
	inc, err := s.Incomplete(ctx(t), key)
	if err != nil || len(inc) != 1 || inc[0] != key {
		t.Fatalf("incomplete uploads after the kill: %v %v", inc, err)
	}
	aborted, err := s.CleanIncomplete(ctx(t), 0, key)
	if err != nil || len(aborted) != 1 {
		t.Fatalf("clean: %v %v", aborted, err)
	}
	if inc, _ := s.Incomplete(ctx(t), key); len(inc) != 0 {
		t.Fatalf("still incomplete: %v", inc)
	}
	if k := keys(t, srv, bucket); len(k) != 0 {
		t.Fatalf("left %v", k)
	}
}

// Ctrl-C in the middle of an upload aborts the multipart upload at once.
func TestCancelMidUpload(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	s := open(t, srv, bucket, "", nil)
	path, sum := randomFile(t, t.TempDir(), "x", 80<<20)
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	_, err := s.Put(c, "etcd-snapshot-20260101T000000Z.db.age", path, Meta{SHA256: sum}, func(sent, total int64) {
		if sent >= PartSize {
			cancel()
		}
	})
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "multipart upload was aborted") {
		t.Fatalf("cancel: %v", err)
	}
	if inc, err := s.Incomplete(ctx(t)); err != nil || len(inc) != 0 {
		t.Fatalf("incomplete after cancel: %v %v", inc, err)
	}
	if k := keys(t, srv, bucket); len(k) != 0 {
		t.Fatalf("left %v", k)
	}
}

func TestCredentialChain(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint)
	target := Target{Bucket: bucket}
	if _, err := Open(Config{NoInstanceRole: true}, target); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no credentials: %v", err)
	}
	// A profile in a shared credentials file.
	file := filepath.Join(home, "creds")
	os.WriteFile(file, []byte(fmt.Sprintf("[default]\naws_access_key_id = nope\naws_secret_access_key = nope\n\n[backup]\naws_access_key_id = %s\naws_secret_access_key = %s\n", srv.AccessKey, srv.SecretKey)), 0o600)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", file)
	t.Setenv("AWS_PROFILE", "backup")
	s, err := Open(Config{NoInstanceRole: true}, target)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Source, `profile "backup"`) || s.Endpoint() != srv.Endpoint || snapshot.Failed(s.CheckDest(ctx(t))) {
		t.Fatalf("profile: source %q endpoint %q", s.Source, s.Endpoint())
	}
	// The environment comes first.
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	if s, err = Open(Config{NoInstanceRole: true}, target); err != nil || !strings.Contains(s.Source, "AWS_ACCESS_KEY_ID") {
		t.Fatalf("env: %v %v", s, err)
	}
}

// TestPutHoldsNoPart: a multipart upload reads its parts from the file, so what it
// allocates does not grow with PartSize; each part still carries its sha256 as S3's own
// checksum, which the store reports for the object (a checksum of the parts' checksums).
func TestPutHoldsNoPart(t *testing.T) {
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	s := open(t, srv, bucket, "etcd", nil)
	path, sum := randomFile(t, t.TempDir(), "x", 5*PartSize+1000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	up, err := s.Put(ctx(t), "etcd-snapshot-20260101T000000Z.db", path, Meta{ClusterID: "cafe", SHA256: sum}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > PartSize/2 {
		t.Errorf("the upload of %s allocated %s: a part is buffered", snapshot.HumanBytes(up.Size), snapshot.HumanBytes(int64(alloc)))
	}
	info, err := srv.Root(t).StatObject(ctx(t), bucket, up.Key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		t.Fatal(err)
	}
	if info.ChecksumSHA256 == "" || info.ChecksumSHA256 != up.Checksum || !strings.HasSuffix(info.ChecksumSHA256, "-6") {
		t.Fatalf("the store's checksum %q, the upload's %q: want one of 6 parts", info.ChecksumSHA256, up.Checksum)
	}
	if _, err := s.ReadBack(ctx(t), up, nil); err != nil {
		t.Fatal(err)
	}
}
