package backup

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/internal/testminio"
	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// publicKey is an age public key whose private key was not kept: the wizard seals to it
// and never needs the private key. Fixed, so that the goldens stay the same.
const publicKey = "age1n79an9mthfed9yt8kpvhdmhg0930e2eplr4rqwenyzm4862e34ksmky88s"

// s3Store starts a real MinIO with a bucket, and gives the wizard its root keys the way an
// operator would: in the environment, where the AWS tools read them.
func s3Store(t *testing.T) (*testminio.Server, string) {
	t.Helper()
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_PROFILE", "")
	return srv, bucket
}

// TestOffsiteResultGolden pins the result of the backup step with an s3:// destination in
// both backends at two widths: a real embedded etcd over mutual TLS, a real MinIO, the
// snapshot sealed with age, and the schedule files written with the credentials file's
// template. The variable parts (paths, ports, the bucket, sizes, sums, timings) are
// replaced by fixed values before rendering.
func TestOffsiteResultGolden(t *testing.T) {
	srv := startEtcd(t)
	minio, bucket := s3Store(t)
	dest := "s3://" + bucket + "/etcd/prod"
	s := newSession(t, srv, prefilled(dest, KeyEncryptTo, publicKey, KeyS3Endpoint, minio.Endpoint,
		KeySchedule, "both", KeyKeep, "5", KeyWrite, "true"))
	p := NewWithOptions(Options{Name: "etcd-snapshot-20260101T000000Z"})
	if runTUI(t, p, s); !p.Ready() {
		t.Fatalf("not ready: %v\n%s", p.Err(), p.View(step.Frame{R: plain.New()}))
	}
	// The outcome the summary reads, and the files written: the units and the template.
	dir := ScheduleDir(s)
	var want []string
	for _, n := range []string{snapshot.CronJobFile, snapshot.ServiceFile, snapshot.TimerFile, offsite.EnvFileName} {
		want = append(want, filepath.Join(dir, n))
		assertMode(t, filepath.Join(dir, n), 0o600)
	}
	if b := s.Backup; b == nil || b.Report == nil || !slices.Equal(b.ScheduleFiles, want) || b.Report.Verification == nil {
		t.Fatalf("Backup = %#v, want files %v", s.Backup, want)
	}
	for _, f := range want {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), minio.SecretKey) {
			t.Fatalf("%s holds the secret key", f)
		}
	}
	if v := p.View(step.Frame{R: plain.New()}); strings.Contains(v, minio.SecretKey) {
		t.Fatal("the view shows the secret key")
	}
	if entries, _ := os.ReadDir(filepath.Join(s.Layout.Root, "var", "lib", "etcd-harden", "staging")); len(entries) != 0 {
		t.Errorf("staging left %v", entries)
	}

	stabiliseOffsite(t, p, filepath.Dir(s.Layout.Root), srv.Endpoint, minio.Endpoint, bucket)
	for _, size := range []struct{ w, h int }{{100, 30}, {60, 20}} {
		for name, r := range map[string]render.Renderer{"plain": plain.New(), "tui-dark": tui.New(tui.ThemeFor(true))} {
			t.Run(fmt.Sprintf("%s-%dx%d", name, size.w, size.h), func(t *testing.T) {
				golden.RequireEqual(t, []byte(steptest.TrueColor(p.View(step.Frame{R: r, Width: size.w, Height: size.h}))))
			})
		}
	}
}

var (
	hexRE      = regexp.MustCompile(`\b[0-9a-f]{64}\b`)
	checksumRE = regexp.MustCompile(`^[A-Za-z0-9+/]{43}=$`)
	keyIDRE    = regexp.MustCompile(`key ID …\w+`)
)

// stabiliseOffsite does for an offsite run what stabilise does for a folder's: the temp
// folders become /ROOT, the endpoints and the bucket fixed ones, sizes 1.0 MiB, sums and
// timings fixed; the store is opened again on the fixed endpoint with fixed keys.
func stabiliseOffsite(t *testing.T, p *Step, tmp, etcdEndpoint, s3Endpoint, bucket string) {
	t.Helper()
	fix := func(s string) string {
		s = strings.ReplaceAll(s, tmp, "/ROOT")
		s = strings.ReplaceAll(s, etcdEndpoint, "https://127.0.0.1:2379")
		s = strings.ReplaceAll(s, s3Endpoint, "http://127.0.0.1:9000")
		s = strings.ReplaceAll(s, bucket, "backups")
		s = roomRE.ReplaceAllString(s, "room for 100 snapshots")
		s = shaRE.ReplaceAllString(s, "sha256 0123456789abcdef…")
		s = hexRE.ReplaceAllString(s, strings.Repeat("0123456789abcdef", 4))
		s = checksumRE.ReplaceAllString(s, "ASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4mrze8=")
		s = keyIDRE.ReplaceAllString(s, "key ID …ABCD")
		s = pagesRE.ReplaceAllString(s, "12 pages (9 in use)")
		return sizeRE.ReplaceAllString(s, "1.0 MiB")
	}
	data, err := json.Marshal(p.off)
	if err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	data, _ = json.Marshal(walk(raw, fix))
	var r offsite.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	l := r.Local
	l.Save.Size, l.Save.Speed, l.Save.Duration = 1<<20, 50<<20, 20*time.Millisecond
	for i := range l.Verification.Steps {
		l.Verification.Steps[i].Took = time.Duration(i+1) * time.Millisecond
	}
	if l.Content != nil {
		l.Content.Took = time.Millisecond
	}
	r.Sealed.Size, r.Sealed.PlainSize = 1<<20+200, 1<<20
	r.Upload.Size, r.Upload.Duration, r.Upload.Speed = 1<<20+200, 30*time.Millisecond, 33<<20
	r.ReadBack.Size, r.ReadBack.Duration = 1<<20+200, 10*time.Millisecond
	p.off = &r
	p.ans.dest = fix(p.ans.dest)
	p.conn.Endpoints = []string{"https://127.0.0.1:2379"}
	t.Setenv("AWS_ACCESS_KEY_ID", "EXAMPLEKEYIDABCD")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
	target, err := offsite.ParseURL(p.ans.dest)
	if err != nil {
		t.Fatal(err)
	}
	if p.store, err = offsite.Open(offsite.Config{Endpoint: "http://127.0.0.1:9000"}, target); err != nil {
		t.Fatal(err)
	}
}

// TestSealedFolder: backup.encryptTo with a folder seals the test snapshot there (the
// plaintext goes) and the schedule written runs `etcd-harden snapshot save --encrypt-to`,
// not etcdctl, which would leave the snapshots in the clear.
func TestSealedFolder(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, srv, prefilled(dest, KeyEncryptTo, publicKey, KeySchedule, "systemd", KeyKeep, "6", KeyWrite, "true"))
	p := NewWithOptions(Options{Name: "etcd-snapshot-20260101T000000Z"})
	if runTUI(t, p, s); !p.Ready() {
		t.Fatalf("not ready: %v\n%s", p.Err(), p.View(step.Frame{R: plain.New()}))
	}
	assertMode(t, filepath.Join(dest, "etcd-snapshot-20260101T000000Z.db.age"), 0o600)
	if _, err := os.Stat(filepath.Join(dest, "etcd-snapshot-20260101T000000Z.db")); !os.IsNotExist(err) {
		t.Fatalf("the plaintext snapshot is still there: %v", err)
	}
	svc, err := os.ReadFile(filepath.Join(dest, snapshot.ServiceFile))
	if err != nil {
		t.Fatal(err)
	}
	want := `"snapshot" "save" "--dest" "` + dest + `" "--encrypt-to" "` + publicKey + `" "--keep" "6"`
	if !strings.Contains(string(svc), want) || strings.Contains(string(svc), "etcdctl") {
		t.Fatalf("service lacks %s:\n%s", want, svc)
	}
	v := p.View(step.Frame{R: plain.New()})
	for _, want := range []string{"[PASS] seal sealed with age", "sealed snapshot: " + filepath.Join(dest, "etcd-snapshot-20260101T000000Z.db.age"), "written to " + filepath.Join(dest, snapshot.ServiceFile)} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	if b := s.Backup; b == nil || len(b.ScheduleFiles) != 2 {
		t.Errorf("Backup = %#v", s.Backup)
	}
}
