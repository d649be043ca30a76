package lab_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/lab"
)

// guideFlag is the line a widely copied guide puts into etcd.yaml; etcd refuses it.
const guideFlag = "    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n"

// etcdRefusal is etcd's own line for guideFlag.
const etcdRefusal = "flag provided but not defined: -encryption-provider-config"

// breakManifest puts guideFlag into the lab's etcd.yaml and returns the file as it was.
func breakManifest(t *testing.T, root string) (path, good string) {
	t.Helper()
	path = filepath.Join(root, lab.EtcdManifest)
	good = readFile(t, path)
	if !strings.Contains(good, "    - etcd\n") {
		t.Fatalf("%s has no etcd command line", path)
	}
	writeFile(t, path, strings.Replace(good, "    - etcd\n", "    - etcd\n"+guideFlag, 1))
	return path, good
}

// TestCrashLoopBackOff: an etcd.yaml whose etcd refuses to start makes the lab's kubelet
// restart etcd with a back-off that doubles, count the restarts and keep etcd's own
// error line (in Pod, the state file and EtcdNow); fixing etcd.yaml starts it at once,
// the count back at zero.
func TestCrashLoopBackOff(t *testing.T) {
	l := startLab(t, lab.Options{Secrets: 2, ConfigMaps: -1})
	root, endpoint := l.Root(), l.Endpoint()
	path, good := breakManifest(t, root)

	var failures []lab.Event
	for len(failures) < 3 {
		e := waitForEvent(t, l, lab.EtcdFailed)
		if e.Backoff <= 0 || !strings.Contains(e.Err.Error(), "exited (exit status 2) before answering on "+endpoint+": "+etcdRefusal+"; ") ||
			!strings.Contains(e.Err.Error(), "CrashLoopBackOff (restarts: "+strconv.Itoa(len(failures))+")") ||
			!strings.Contains(e.Err.Error(), path) {
			t.Fatalf("failure %d: %v (back-off %s)\n%s\nwant etcd's refusal, the restart count and %s", len(failures), e.Err, e.Backoff, strings.Join(e.Log, "\n"), path)
		}
		failures = append(failures, e)
	}
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		if failures[i].Backoff != want || failures[i].Restarts != i {
			t.Errorf("failure %d: back-off %s after %d restarts; want %s after %d", i, failures[i].Backoff, failures[i].Restarts, want, i)
		}
	}
	pod := l.Pod()
	if pod.Restarts != 2 || pod.LastError != etcdRefusal || !pod.CrashLooping() || pod.Backoff != 2*time.Second {
		t.Errorf("Pod() = %+v; want 2 restarts, %q, a restart due in 2s", pod, etcdRefusal)
	}
	if st, err := lab.ReadState(root); err != nil || st.EtcdPID != 0 || st.EtcdPod.Restarts != 2 || st.EtcdPod.LastError != etcdRefusal {
		t.Errorf("state file: %+v, %v; want no etcd pid, 2 restarts and etcd's refusal", st, err)
	}
	now := l.EtcdNow()
	for _, want := range []string{"The lab's etcd now: CrashLoopBackOff (restarted 2 times, next start ", "etcd's own last words: " + etcdRefusal, "at once when etcd.yaml changes"} {
		if !strings.Contains(now, want) {
			t.Errorf("EtcdNow() = %q; want %q", now, want)
		}
	}

	// The fix starts etcd at once, not after the pending back-off (2 s): a start from the
	// back-off would count a third restart; the change starts a new count.
	writeFile(t, path, good)
	ready := waitForEvent(t, l, lab.EtcdReady)
	if !ready.Restart || l.Pod().Restarts != 0 || l.Pod().CrashLooping() {
		t.Errorf("after the fix: %+v, pod %+v; want a restart started by the change, the count back at 0", ready, l.Pod())
	}
	if n := len(get(t, client(t, l), "/registry/secrets/")); n != 2 {
		t.Errorf("after the fix: %d Secrets, want 2", n)
	}
	if now := l.EtcdNow(); !strings.HasPrefix(now, "The lab's etcd now: running (pid ") || strings.Contains(now, "CrashLoopBackOff") {
		t.Errorf("EtcdNow() after the fix = %q", now)
	}
}

// TestCrashLoopLeavesNoProcess: Close during a crash loop leaves no etcd behind.
func TestCrashLoopLeavesNoProcess(t *testing.T) {
	l := startLab(t, lab.Options{Secrets: -1, ConfigMaps: -1, Keep: true})
	root := l.Root()
	breakManifest(t, root)
	for range 3 {
		waitForEvent(t, l, lab.EtcdFailed)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if pids := labProcesses(t, root); len(pids) > 0 {
		t.Fatalf("processes of the lab in %s after Close: %v", root, pids)
	}
}

// TestNoOrphanWhenCrashLoopingLabDies: SIGKILL of the lab process while its etcd
// crash-loops leaves no etcd behind, whatever point of the loop it was at.
func TestNoOrphanWhenCrashLoopingLabDies(t *testing.T) {
	self, _ := os.Executable()
	for i := range 3 {
		dir := t.TempDir()
		parent := exec.Command(self, "-test.run=^$")
		parent.Env = append(os.Environ(), parentEnv+"="+dir, crashEnv+"=1")
		out, err := parent.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := parent.Start(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "crash-looping") {
			parent.Process.Kill()
			parent.Wait()
			t.Fatalf("lab process said %q", line)
		}
		// Kill it at a different point of the loop each time: during a start, a back-off.
		time.Sleep(time.Duration(i) * 350 * time.Millisecond)
		parent.Process.Kill() // SIGKILL: no Close, no cleanup
		parent.Wait()
		root := filepath.Join(dir, "root")
		deadline := time.Now().Add(5 * time.Second)
		for pids := labProcesses(t, root); len(pids) > 0; pids = labProcesses(t, root) {
			if time.Now().After(deadline) {
				for _, pid := range pids {
					syscall.Kill(pid, syscall.SIGKILL)
				}
				t.Fatalf("round %d: etcd processes %v outlived the lab process by 5s: orphaned", i, pids)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// crashEnv makes runParent break etcd.yaml and say "crash-looping" once etcd failed.
const crashEnv = "LAB_TEST_CRASH"

// labProcesses returns the pids of live processes whose command line names root (etcd
// runs with its data dir under it).
func labProcesses(t *testing.T, root string) []int {
	t.Helper()
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skipf("no /proc: %v", err)
	}
	return testetcd.ProcessesUnder(root)
}
