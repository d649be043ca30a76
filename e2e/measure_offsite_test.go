package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/internal/testminio"
)

// measureRecipient is an age public key whose private key was not kept: the measured
// upload is sealed to it.
const measureRecipient = "age1n79an9mthfed9yt8kpvhdmhg0930e2eplr4rqwenyzm4862e34ksmky88s"

// TestMeasureOffsiteSave is the closing measurement of the offsite issue, opt-in:
//
//	ETCD_HARDEN_MEASURE_GIB=1 go test -count=1 -run TestMeasureOffsiteSave -v -timeout 60m ./e2e/
//
// It fills an embedded etcd (mutual TLS) with 1 KiB values up to that many GiB of database,
// starts a real MinIO, and runs, each ETCD_HARDEN_MEASURE_RUNS times (3 by default), as
// whole processes of the built binary: `etcd-harden snapshot save --dest s3://… --encrypt-to
// …` (save, verify, seal, upload, read back), `etcd-harden snapshot save --dest FOLDER`
// (save and verify), and Debian's `etcdctl snapshot save` when it is installed. While each
// runs, /proc/<pid>/status of the process and of every child it starts (the verification's
// child) is sampled every 10 ms: each process's VmHWM (its peak resident set, the kernel's
// own high-water mark, file pages included: the verification maps the snapshot) and the
// largest RssAnon seen (its heap and stacks). It logs the medians and the load average.
func TestMeasureOffsiteSave(t *testing.T) {
	gib, _ := strconv.ParseFloat(os.Getenv("ETCD_HARDEN_MEASURE_GIB"), 64)
	if gib <= 0 {
		t.Skip("set ETCD_HARDEN_MEASURE_GIB (e.g. 1) to measure")
	}
	runs := 3
	if n, err := strconv.Atoi(os.Getenv("ETCD_HARDEN_MEASURE_RUNS")); err == nil && n > 0 {
		runs = n
	}
	bin := binary(t)
	srv := testetcd.Start(t, testetcd.Options{TLS: true, QuotaBytes: 8 << 30})
	dbSize := fillEtcd(t, srv, int64(gib*(1<<30)))
	mio := testminio.Start(t)
	bucket := mio.Bucket(t, false)
	work := t.TempDir()
	t.Logf("database %.2f GiB; load average before: %s", float64(dbSize)/(1<<30), loadAvg())

	tls := []string{"--endpoints", srv.Endpoint, "--cacert", srv.TLS.CA, "--cert", srv.TLS.ClientCert, "--key", srv.TLS.ClientKey}
	env := append(os.Environ(), "AWS_ACCESS_KEY_ID="+mio.AccessKey, "AWS_SECRET_ACCESS_KEY="+mio.SecretKey, "NO_COLOR=1")
	// ETCD_HARDEN_MEASURE_ENV adds variables for etcd-harden only, e.g. GOGC=50.
	env = append(env, strings.Fields(os.Getenv("ETCD_HARDEN_MEASURE_ENV"))...)
	cases := []struct {
		name string
		cmd  func(i int) *exec.Cmd
	}{
		{"etcd-harden snapshot save --dest s3:// --encrypt-to", func(i int) *exec.Cmd {
			c := exec.Command(bin, append([]string{"snapshot", "save", "--root", work, "--dest", "s3://" + bucket + "/etcd",
				"--s3-endpoint", mio.Endpoint, "--encrypt-to", measureRecipient, "--staging", filepath.Join(work, "staging"),
				"--keep", "1", "--timeout", "30m", "--name", fmt.Sprintf("etcd-snapshot-20260101T00000%dZ", i)}, tls...)...)
			c.Env = env
			return c
		}},
		{"etcd-harden snapshot save --dest FOLDER", func(i int) *exec.Cmd {
			c := exec.Command(bin, append([]string{"snapshot", "save", "--root", work, "--dest", filepath.Join(work, "local"),
				"--keep", "1", "--timeout", "30m", "--name", fmt.Sprintf("etcd-snapshot-20260101T00000%dZ", i)}, tls...)...)
			c.Env = env
			return c
		}},
	}
	if etcdctl, err := exec.LookPath("etcdctl"); err == nil {
		cases = append(cases, struct {
			name string
			cmd  func(i int) *exec.Cmd
		}{"etcdctl snapshot save", func(i int) *exec.Cmd {
			out := filepath.Join(work, "etcdctl", fmt.Sprintf("s%d.db", i))
			os.MkdirAll(filepath.Dir(out), 0o700)
			os.Remove(out)
			c := exec.Command(etcdctl, append([]string{"snapshot", "save", out}, tls...)...)
			c.Env = append(os.Environ(), "ETCDCTL_API=3")
			return c
		}})
	} else {
		t.Log("etcdctl is not installed (Debian's etcd-client): measured without it")
	}
	for _, c := range cases {
		var ms []measured
		for i := range runs {
			m, out, err := measure(c.cmd(i))
			if err != nil {
				t.Fatalf("%s: %v\n%s", c.name, err, out)
			}
			ms = append(ms, m)
			t.Logf("%s, run %d: %s", c.name, i+1, m)
		}
		med := median(ms)
		t.Logf("MEDIAN %s: %s, %.0f MiB/s of database", c.name, med, float64(dbSize)/(1<<20)/med.took.Seconds())
	}
	t.Logf("load average after: %s", loadAvg())
}

// fillEtcd fills srv with about size bytes of 1 KiB values (fillCluster) and returns
// the database's size.
func fillEtcd(t *testing.T, srv *testetcd.Server, size int64) int64 {
	t.Helper()
	cli := srv.Client(t)
	start := time.Now()
	fillCluster(t, cli, int(size), 1024)
	st, err := cli.Status(context.Background(), srv.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filled %.2f GiB of 1 KiB values in %s", float64(st.DbSize)/(1<<30), time.Since(start).Round(time.Second))
	return st.DbSize
}

// measured is one run of one command: wall time, and for the command's own process and for
// its largest child (the verification's, which maps the snapshot) the VmHWM and the largest
// RssAnon and RssFile seen, in bytes.
type measured struct {
	took time.Duration
	// procs are keyed "NAME" (the command) and "NAME child" (the child of the largest
	// VmHWM).
	procs map[string]peak
}

type peak struct{ hwm, anon, file int64 }

func (m measured) String() string {
	var keys []string
	for k := range m.procs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := []string{m.took.Round(10 * time.Millisecond).String()}
	for _, k := range keys {
		p := m.procs[k]
		parts = append(parts, fmt.Sprintf("%s VmHWM %.1f MiB, RssAnon max %.1f MiB, RssFile max %.1f MiB", k, float64(p.hwm)/(1<<20), float64(p.anon)/(1<<20), float64(p.file)/(1<<20)))
	}
	return strings.Join(parts, "; ")
}

// measure runs cmd, sampling its process tree until it exits.
func measure(cmd *exec.Cmd) (measured, string, error) {
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	m := measured{procs: map[string]peak{}}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	peaks := map[int]peak{}
	comms := map[int]string{}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, pid := range tree(cmd.Process.Pid) {
			hwm, anon, file, comm, ok := status(pid)
			if !ok {
				continue
			}
			p := peaks[pid]
			p.hwm, p.anon, p.file = max(p.hwm, hwm), max(p.anon, anon), max(p.file, file)
			peaks[pid], comms[pid] = p, comm
		}
		select {
		case err := <-done:
			m.took = time.Since(start)
			main := cmd.Process.Pid
			m.procs[comms[main]] = peaks[main]
			var child peak
			var childComm string
			for pid, p := range peaks {
				if pid != main && p.hwm >= child.hwm {
					child, childComm = p, comms[pid]
				}
			}
			if childComm != "" {
				m.procs[childComm+" child"] = child
			}
			return m, out.String(), err
		case <-tick.C:
		}
	}
}

// tree is pid and its descendants, from /proc/<pid>/task/<tid>/children.
func tree(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", out[i]))
		for _, f := range tasks {
			data, _ := os.ReadFile(f)
			for _, s := range strings.Fields(string(data)) {
				if c, err := strconv.Atoi(s); err == nil && !slices.Contains(out, c) {
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// status reads VmHWM, RssAnon and RssFile (bytes) and the command name of pid.
func status(pid int) (hwm, anon, file int64, comm string, ok bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		switch {
		case k == "Name" && len(fields) > 0:
			comm = fields[0]
		case (k == "VmHWM" || k == "RssAnon" || k == "RssFile") && len(fields) > 0:
			n, _ := strconv.ParseInt(fields[0], 10, 64)
			switch k {
			case "VmHWM":
				hwm = n << 10
			case "RssAnon":
				anon = n << 10
			default:
				file = n << 10
			}
		}
	}
	return hwm, anon, file, comm, comm != ""
}

// median is the run with the median time, with the median of each process's peaks.
func median(ms []measured) measured {
	out := measured{procs: map[string]peak{}}
	var took []time.Duration
	for _, m := range ms {
		took = append(took, m.took)
	}
	slices.Sort(took)
	out.took = took[len(took)/2]
	for k := range ms[0].procs {
		var hwm, anon, file []int64
		for _, m := range ms {
			hwm, anon, file = append(hwm, m.procs[k].hwm), append(anon, m.procs[k].anon), append(file, m.procs[k].file)
		}
		for _, s := range [][]int64{hwm, anon, file} {
			slices.Sort(s)
		}
		out.procs[k] = peak{hwm[len(hwm)/2], anon[len(anon)/2], file[len(file)/2]}
	}
	return out
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}
