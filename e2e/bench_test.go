package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// BenchmarkSnapshotSideBySide times etcd-harden against etcdctl as whole processes, on the
// same database in the same run, and reports each pair's ratio (the goals):
//
//	snapshot test (no rehearsal) / etcdctl snapshot save   ≤ 1.25
//	snapshot test --rehearse always / etcdctl snapshot save ≤ 1.6
//	encryption status / etcdctl get /registry/secrets/ --prefix ≤ 0.5
//
// and each etcd-harden process tree's peak anonymous memory (RssAnon summed over the
// process and its children, sampled every 5 ms from /proc; file pages that bbolt maps are
// not in it) beside its peak resident set. The database is SNAPSHOT_BENCH_MB megabytes
// (200 by default) of 1 KiB values (SNAPSHOT_BENCH_VALUE bytes), a tenth Secrets and the rest ConfigMaps, as a cluster
// holds them; SNAPSHOT_BENCH_SERVER=debian serves it from Debian's etcd 3.4 (the
// embedded etcd 3.7 otherwise). It needs Debian's etcdctl (etcd-client):
//
//	go test -run XXX -bench SideBySide -benchtime 3x ./e2e/
func BenchmarkSnapshotSideBySide(b *testing.B) {
	etcdctl, err := exec.LookPath("etcdctl")
	if err != nil {
		b.Skip("no etcdctl in PATH: apt-get install etcd-client")
	}
	mb := 200
	if v, err := strconv.Atoi(os.Getenv("SNAPSHOT_BENCH_MB")); err == nil && v > 0 {
		mb = v
	}
	opts := testetcd.Options{TLS: true, QuotaBytes: 8 << 30}
	var srv *testetcd.Server
	if os.Getenv("SNAPSHOT_BENCH_SERVER") == "debian" {
		srv = testetcd.StartDebian(b, opts)
	} else {
		srv = testetcd.Start(b, opts)
	}
	value := 1024
	if v, err := strconv.Atoi(os.Getenv("SNAPSHOT_BENCH_VALUE")); err == nil && v > 0 {
		value = v
	}
	secrets := fillCluster(b, srv.Client(b), mb<<20, value)
	bin := binary(b)
	conn := []string{"--endpoints", srv.Endpoint, "--cacert", srv.TLS.CA, "--cert", srv.TLS.ClientCert, "--key", srv.TLS.ClientKey}
	root, dest := b.TempDir(), b.TempDir()
	env := append(os.Environ(), "ETCDCTL_API=3", "NO_COLOR=1")

	var save, test, rehearsed, get, status []process
	inside := map[string][]time.Duration{} // the parts of a snapshot test, from its report
	cli := srv.Client(b)
	// idle waits until the member answers again: on a large database it can still be
	// busy after the last process ended (freeing a snapshot's pages), and each process is
	// timed against an idle member.
	idle := func(after string, m process) process {
		start := time.Now()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := cli.Status(ctx, srv.Endpoint)
			cancel()
			if err == nil {
				break
			}
		}
		b.Logf("%s: %.1f s, peak anon %.1f MiB, RSS %.0f MiB; the member answered %.1f s later", after, m.took.Seconds(),
			float64(m.anon)/(1<<20), float64(m.rss)/(1<<20), time.Since(start).Seconds())
		return m
	}
	// b.Loop runs the function once, so the database is filled once (b.N would run it
	// with N=1 first, then again with 3 for -benchtime 3x).
	for i := 0; b.Loop(); i++ {
		snap := filepath.Join(dest, fmt.Sprintf("etcdctl-%d.db", i))
		save = append(save, idle("etcdctl snapshot save", runProcess(b, env, etcdctl, append(conn, "snapshot", "save", snap)...)))
		os.Remove(snap)
		for _, r := range []struct {
			rehearse string
			into     *[]process
		}{{"never", &test}, {"always", &rehearsed}} {
			name := fmt.Sprintf("eh-%s-%d", r.rehearse, i)
			m := idle("snapshot test --rehearse "+r.rehearse, runProcess(b, env, bin, append([]string{"snapshot", "test", "--root", root, "--dest", dest,
				"--name", name, "--rehearse", r.rehearse, "-o", "json"}, conn...)...))
			*r.into = append(*r.into, m)
			parts(b, m.out, r.rehearse, inside)
			os.Remove(filepath.Join(dest, name+".db"))
		}
		get = append(get, idle("etcdctl get --prefix", runProcess(b, env, etcdctl, append(conn, "--command-timeout", "5m", "get", "/registry/secrets/", "--prefix")...)))
		st := idle("encryption status", runProcess(b, env, bin, append([]string{"encryption", "status", "--root", root, "-o", "json"}, conn...)...))
		if !bytes.Contains(st.out, []byte(fmt.Sprintf(`"total": %d`, secrets))) {
			b.Fatalf("encryption status did not count %d Secrets:\n%.2000s", secrets, st.out)
		}
		status = append(status, st)
	}
	report := func(name string, ms, anchor []process) {
		b.ReportMetric(medianOf(ms, took).Seconds(), name+"-s")
		b.ReportMetric(float64(medianOf(ms, took))/float64(medianOf(anchor, took)), name+"-ratio")
		b.ReportMetric(float64(medianOf(ms, anon))/(1<<20), name+"-peakAnon-MiB")
		b.ReportMetric(float64(medianOf(ms, rss))/(1<<20), name+"-peakRSS-MiB")
	}
	b.ReportMetric(medianOf(save, took).Seconds(), "etcdctl-save-s")
	b.ReportMetric(float64(medianOf(save, rss))/(1<<20), "etcdctl-save-peakRSS-MiB")
	b.ReportMetric(medianOf(get, took).Seconds(), "etcdctl-get-s")
	b.ReportMetric(float64(medianOf(get, rss))/(1<<20), "etcdctl-get-peakRSS-MiB")
	for name, ds := range inside {
		slices.Sort(ds)
		b.ReportMetric(ds[len(ds)/2].Seconds(), name+"-s")
	}
	report("test", test, save)
	report("test-rehearsed", rehearsed, save)
	report("status", status, get)
}

// parts adds the durations inside a snapshot test's JSON report: the save, each
// verification step and the comparison with the member.
func parts(b *testing.B, out []byte, run string, into map[string][]time.Duration) {
	var rep snapshot.Report
	if err := json.Unmarshal(out, &rep); err != nil || rep.Save == nil || rep.Verification == nil {
		b.Fatalf("not a passing report (%v):\n%.2000s", err, out)
	}
	add := func(name string, d time.Duration) {
		key := run + "/" + strings.ReplaceAll(name, " ", "-")
		into[key] = append(into[key], d)
	}
	add("save", rep.Save.Duration)
	for _, s := range rep.Verification.Steps {
		add(s.Name, s.Took)
	}
	if rep.Content != nil {
		add("hashkv", rep.Content.Took)
	}
}

// process is one whole process: its wall time and the peaks of its process tree.
type process struct {
	took      time.Duration
	anon, rss int64 // bytes
	out       []byte
}

func took(m process) int64 { return int64(m.took) }
func anon(m process) int64 { return m.anon }
func rss(m process) int64  { return m.rss }

func medianOf(ms []process, f func(process) int64) time.Duration {
	v := make([]int64, len(ms))
	for i, m := range ms {
		v[i] = f(m)
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return time.Duration(v[len(v)/2])
}

// measure runs bin with args, sampling its process tree's memory until it exits.
func runProcess(b *testing.B, env []string, bin string, args ...string) process {
	b.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errOut
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	m := process{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			a, r := treeMemory(cmd.Process.Pid)
			m.anon, m.rss = max(m.anon, a), max(m.rss, r)
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	err := cmd.Wait()
	m.took = time.Since(start)
	close(done)
	wg.Wait()
	if err != nil {
		b.Fatalf("%s %v: %v\n%s\n%s", filepath.Base(bin), args, err, out.String(), errOut.String())
	}
	m.out = out.Bytes()
	return m
}

// treeMemory sums RssAnon and the resident set (RssAnon + RssFile) over pid and its
// descendants (tree and status, measure_offsite_test.go).
func treeMemory(pid int) (anon, rss int64) {
	for _, p := range tree(pid) {
		if _, a, f, _, ok := status(p); ok {
			anon, rss = anon+a, rss+a+f
		}
	}
	return anon, rss
}

// fillCluster writes about size bytes of values of valueSize bytes, a tenth of them
// Secrets and the rest ConfigMaps, in transactions of up to 64 puts (and 1 MiB) from 8
// writers, and returns how many Secrets it wrote.
func fillCluster(b testing.TB, cli *clientv3.Client, size, valueSize int) int {
	b.Helper()
	const writers = 8
	perTxn := max(1, min(64, (1<<20)/valueSize))
	n := size / (valueSize + 64)
	value := bytes.Repeat([]byte("x"), valueSize)
	var secrets int
	for i := range n {
		if i%10 == 0 {
			secrets++
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	next := make(chan int)
	errs := make(chan error, writers)
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for first := range next {
				ops := make([]clientv3.Op, 0, perTxn)
				for i := first; i < min(first+perTxn, n); i++ {
					kind := "configmaps"
					if i%10 == 0 {
						kind = "secrets"
					}
					ops = append(ops, clientv3.OpPut(fmt.Sprintf("/registry/%s/ns-%03d/obj-%07d", kind, i%500, i), string(value)))
				}
				if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for first := 0; first < n; first += perTxn {
		select {
		case next <- first:
		case err := <-errs:
			b.Fatal(err)
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return secrets
}
