package offsite

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testminio"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// TestMeasureSealedUpload seals and uploads a large file to a real MinIO and reports the
// time and this process's peak memory. It runs only with ETCD_HARDEN_MEASURE_MIB set (the
// size in MiB), e.g. ETCD_HARDEN_MEASURE_MIB=1024 go test -run TestMeasureSealedUpload -v.
func TestMeasureSealedUpload(t *testing.T) {
	mib, _ := strconv.Atoi(os.Getenv("ETCD_HARDEN_MEASURE_MIB"))
	if mib <= 0 {
		t.Skip("set ETCD_HARDEN_MEASURE_MIB to measure")
	}
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	s := open(t, srv, bucket, "m", nil)
	dir := t.TempDir()
	plain, _ := randomFile(t, dir, "etcd-snapshot-20260101T000000Z.db", mib<<20)
	idPath, rs := identity(t)
	before := procStatus(t)
	start := time.Now()
	sealed, err := rs.SealFile(ctx(t), plain)
	if err != nil {
		t.Fatal(err)
	}
	sealTook := time.Since(start)
	up, err := s.Put(ctx(t), "etcd-snapshot-20260101T000000Z.db.age", sealed.Path, Meta{SHA256: sealed.SHA256, PlainSHA256: sealed.PlainSHA256, Sealed: "age"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := s.ReadBack(ctx(t), up, loadIDs(t, idPath))
	if err != nil {
		t.Fatal(err)
	}
	after := procStatus(t)
	size := float64(sealed.Size)
	t.Logf("%d MiB: seal %s (%s/s), upload %s (%s/s), read-back+decrypt %s (%s/s)", mib,
		sealTook.Round(time.Millisecond), snapshot.HumanBytes(int64(size/sealTook.Seconds())),
		up.Duration.Round(time.Millisecond), snapshot.HumanBytes(int64(up.Speed)),
		rb.Duration.Round(time.Millisecond), snapshot.HumanBytes(int64(size/rb.Duration.Seconds())))
	t.Logf("memory before: %s; after: %s", before, after)
}

func procStatus(t *testing.T) string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "RssAnon") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	return strings.Join(out, ", ")
}
