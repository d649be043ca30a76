package snapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	clientsnap "go.etcd.io/etcd/client/v3/snapshot"
	"go.uber.org/zap"
)

// BenchmarkSaveVerify measures Save and Verify on a 64 MiB DB, or SNAPSHOT_BENCH_GIB GiB:
//
//	SNAPSHOT_BENCH_GIB=1 go test -run XXX -bench SaveVerify -benchtime=1x ./steps/snapshot/
//
// Save and Verify run in a child process (this test binary, re-executed) so that the peak
// RSS reported is theirs alone, not the embedded etcd's: the child reads its own VmHWM.
// The rusage Maxrss of a child of this process would not do: Linux carries the parent's
// high-water mark across fork (vfork) and exec into it. For the same reason the child, not
// this process, starts etcdctl (Debian's etcd-client, when installed) and reports its Maxrss.
func BenchmarkSaveVerify(b *testing.B) {
	size := int64(64 << 20)
	if g, err := strconv.ParseFloat(os.Getenv("SNAPSHOT_BENCH_GIB"), 64); err == nil && g > 0 {
		size = int64(g * (1 << 30))
	}
	srv := testetcd.Start(b, testetcd.Options{TLS: true, QuotaBytes: 8 << 30})
	const value = 512 << 10
	fill(b, srv.Client(b), int(size/value), value)
	dest := b.TempDir()
	etcdctl, _ := exec.LookPath("etcdctl") // the child finds it again
	var save, verify, lib, ctl stats
	base := runChild(b, srv, "baseline", dest, "")
	for i := 0; b.Loop(); i++ { // b.Loop: the function, and so the fill, runs once
		path := FinalPath(dest, fmt.Sprintf("bench-%d", i))
		save.add(runChild(b, srv, "save", dest, path))
		verify.add(runChild(b, srv, "verify", dest, path))
		os.Remove(path)
		lib.add(runChild(b, srv, "lib", dest, path))
		os.Remove(path)
		if etcdctl != "" {
			ctl.add(runChild(b, srv, "etcdctl", dest, path))
			os.Remove(path)
		}
	}
	b.ReportMetric(float64(base.MaxRSS)/(1<<20), "child-baseline-peakRSS-MiB")
	save.report(b, "save")
	verify.report(b, "verify")
	lib.report(b, "clientv3-snapshot")
	if etcdctl != "" {
		ctl.report(b, "etcdctl")
	}
}

// run is one measured run: bytes handled, wall time, peak RSS of the process.
type run struct {
	Bytes  int64
	Took   time.Duration
	MaxRSS int64 // bytes
}

type stats struct {
	bytes  int64
	took   time.Duration
	maxRSS int64
	n      int
}

func (s *stats) add(r run) {
	s.bytes += r.Bytes
	s.took += r.Took
	s.maxRSS = max(s.maxRSS, r.MaxRSS)
	s.n++
}

func (s *stats) report(b *testing.B, name string) {
	if s.n == 0 {
		return
	}
	b.ReportMetric(float64(s.bytes)/(1<<20)/s.took.Seconds(), name+"-MiB/s")
	b.ReportMetric(float64(s.maxRSS)/(1<<20), name+"-peakRSS-MiB")
	b.ReportMetric(float64(s.bytes/int64(s.n))/(1<<20), name+"-file-MiB")
}

func maxRSS(c *exec.Cmd) int64 {
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss << 10 // Linux reports KiB
	}
	return 0
}

func runChild(b *testing.B, srv *testetcd.Server, mode, dest, path string) run {
	b.Helper()
	c := exec.Command(os.Args[0], "-test.run=^TestBenchChild$", "-test.v")
	c.Env = append(os.Environ(), "SNAPSHOT_BENCH_CHILD="+mode, "SNAPSHOT_ENDPOINT="+srv.Endpoint,
		"SNAPSHOT_CA="+srv.TLS.CA, "SNAPSHOT_CERT="+srv.TLS.ClientCert, "SNAPSHOT_KEY="+srv.TLS.ClientKey,
		"SNAPSHOT_DEST="+dest, "SNAPSHOT_PATH="+path)
	out, err := c.CombinedOutput()
	if err != nil {
		b.Fatalf("%s child: %v\n%s", mode, err, out)
	}
	if mode == "verify" {
		b.Logf("verify steps:\n%s", out)
	}
	_, line, ok := strings.Cut(string(out), "BENCH ")
	if !ok {
		b.Fatalf("%s child printed no result:\n%s", mode, out)
	}
	var r run
	if err := json.Unmarshal([]byte(strings.SplitN(line, "\n", 2)[0]), &r); err != nil {
		b.Fatal(err)
	}
	return r
}

// TestBenchChild is the child side of BenchmarkSaveVerify; it does nothing in a normal run.
func TestBenchChild(t *testing.T) {
	mode := os.Getenv("SNAPSHOT_BENCH_CHILD")
	if mode == "" {
		t.Skip("runs only as BenchmarkSaveVerify's child process")
	}
	path := os.Getenv("SNAPSHOT_PATH")
	ctx := context.Background()
	start := time.Now()
	var n int64
	switch mode {
	case "save":
		cfg := tlsConfig(t, os.Getenv("SNAPSHOT_ENDPOINT"), os.Getenv("SNAPSHOT_CA"), os.Getenv("SNAPSHOT_CERT"), os.Getenv("SNAPSHOT_KEY"))
		res, err := Save(ctx, cfg, os.Getenv("SNAPSHOT_DEST"), strings.TrimSuffix(filepath.Base(path), ".db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		n = res.Size
	case "verify":
		v, err := Verify(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		n = v.Size
		for _, s := range v.Steps {
			t.Logf("%s: %s", s.Name, s.Took)
		}
	case "lib": // client/v3/snapshot.SaveWithVersion, for comparison with Save
		cfg := tlsConfig(t, os.Getenv("SNAPSHOT_ENDPOINT"), os.Getenv("SNAPSHOT_CA"), os.Getenv("SNAPSHOT_CERT"), os.Getenv("SNAPSHOT_KEY"))
		if _, err := clientsnap.SaveWithVersion(ctx, zap.NewNop(), cfg, path); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		n = fi.Size()
	case "baseline": // the child's own footprint, to subtract
	case "etcdctl":
		r := etcdctlSave(t, path)
		b, _ := json.Marshal(r)
		fmt.Printf("BENCH %s\n", b)
		return
	}
	peak := vmHWM(t)
	if mode == "verify" { // the bbolt steps ran in a verify child of this process
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err == nil {
			peak = max(peak, ru.Maxrss<<10)
		}
	}
	b, _ := json.Marshal(run{Bytes: n, Took: time.Since(start), MaxRSS: peak})
	fmt.Printf("BENCH %s\n", b)
}

func etcdctlSave(t *testing.T, path string) run {
	bin, err := exec.LookPath("etcdctl")
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command(bin, "--endpoints", os.Getenv("SNAPSHOT_ENDPOINT"), "--cacert", os.Getenv("SNAPSHOT_CA"),
		"--cert", os.Getenv("SNAPSHOT_CERT"), "--key", os.Getenv("SNAPSHOT_KEY"), "snapshot", "save", path)
	c.Env = append(os.Environ(), "ETCDCTL_API=3")
	start := time.Now()
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("etcdctl: %v\n%s", err, out)
	}
	took := time.Since(start)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return run{Bytes: fi.Size(), Took: took, MaxRSS: maxRSS(c)}
}

// vmHWM is this process's peak resident set since exec, from /proc/self/status.
func vmHWM(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/self/status")
	return 0
}
