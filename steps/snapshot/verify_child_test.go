package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets this test binary stand in for etcd-harden: Verify's default command
// re-runs os.Executable() with VerifySubcommand, which lands here. SNAPSHOT_TEST_CHILD
// makes it a misbehaving child instead, and SNAPSHOT_TEST_PARENT a parent to kill.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == VerifySubcommand {
		if mode := os.Getenv("SNAPSHOT_TEST_CHILD"); mode != "" {
			fakeChild(mode)
		}
		code := RunVerifyChild(os.Args[2:], os.Stdout)
		if f := os.Getenv("SNAPSHOT_TEST_LIMITFILE"); f != "" {
			_ = os.WriteFile(f, []byte(strconv.FormatInt(debug.SetMemoryLimit(-1), 10)), 0o600)
		}
		os.Exit(code)
	}
	if path := os.Getenv("SNAPSHOT_TEST_PARENT"); path != "" {
		_, err := VerifyWith(context.Background(), path, VerifyOptions{Command: fakeCommand("hang", os.Getenv("SNAPSHOT_TEST_PIDFILE"))})
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// fakeCommand runs this test binary as a verify child that behaves as mode says.
func fakeCommand(mode, pidfile string) func([]string) *exec.Cmd {
	return func(args []string) *exec.Cmd {
		c := exec.Command(os.Args[0], append([]string{VerifySubcommand, "--"}, args...)...)
		c.Env = append(os.Environ(), "SNAPSHOT_TEST_CHILD="+mode, "SNAPSHOT_TEST_PIDFILE="+pidfile)
		return c
	}
}

// limitCommand runs this test binary as a real verify child that writes its memory limit
// into file when done; env, when not "", is added to its environment (GOMEMLIMIT taken
// out of it otherwise).
func limitCommand(file, env string) func([]string) *exec.Cmd {
	return func(args []string) *exec.Cmd {
		c := exec.Command(os.Args[0], append([]string{VerifySubcommand, "--"}, args...)...)
		c.Env = append(slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMEMLIMIT=") }), "SNAPSHOT_TEST_LIMITFILE="+file)
		if env != "" {
			c.Env = append(c.Env, env)
		}
		return c
	}
}

func fakeChild(mode string) {
	start := func() { fmt.Printf("{\"start\":%q}\n", VerifyBolt) }
	switch mode {
	case "hang": // starts the bbolt check and never ends
		start()
		if f := os.Getenv("SNAPSHOT_TEST_PIDFILE"); f != "" {
			_ = os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0o600)
		}
		time.Sleep(time.Minute)
	case "exit": // a binary that does not know the subcommand
		fmt.Fprintln(os.Stderr, "Error: unknown command \"__verify-snapshot\"")
		os.Exit(3)
	case "nothing": // exits cleanly without a word
		os.Exit(0)
	case "crash-early": // crashes before it looks at the snapshot
		panic("boom in init")
	case "killed": // killed from outside (the OOM killer) in the middle of a step
		start()
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
	case "oom":
		start()
		fmt.Fprint(os.Stderr, "fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({0x1, 0x2})\n")
		os.Exit(2)
	}
	os.Exit(9)
}

// fakeSnapshot is a file that passes the trailer check; fake children never read it.
func fakeSnapshot(t *testing.T) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, "snap.db")
	body := make([]byte, 8192)
	sum := sha256.Sum256(body)
	if err := os.WriteFile(path, append(body, sum[:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// TestVerifyChildFailuresLeaveTheFile: a child that could not do its work says nothing
// about the snapshot, so the file stays where it is and the error says what went wrong.
func TestVerifyChildFailuresLeaveTheFile(t *testing.T) {
	tests := []struct {
		mode string
		want []string
	}{
		{"exit", []string{"exit status 3", `unknown command "__verify-snapshot"`}},
		{"nothing", []string{"reported 0 of 3 steps and stopped"}},
		{"crash-early", []string{"exit status 2", "panic: boom in init"}},
		{"killed", []string{"signal: killed", "killed from outside"}},
		{"oom", []string{"fatal error: runtime: out of memory", "it ran out of memory"}},
	}
	for _, tc := range tests {
		t.Run(tc.mode, func(t *testing.T) {
			dir, path := fakeSnapshot(t)
			v, err := VerifyWith(context.Background(), path, VerifyOptions{Command: fakeCommand(tc.mode, ""), Rehearse: true})
			if errors.Is(err, ErrCorrupt) || errors.Is(err, ErrCrashed) {
				t.Fatalf("a failed child is not a corrupt snapshot: %v", err)
			}
			assertContains(t, err, append([]string{"verify " + path, "the process running the bbolt checks", "the file was left as it is"}, tc.want...)...)
			if v == nil || v.OK || len(v.Steps) != 1 || v.Steps[0].Name != VerifyTrailer {
				t.Fatalf("verification %+v", v)
			}
			if names := entries(t, dir); len(names) != 1 || names[0] != "snap.db" {
				t.Fatalf("folder holds %v, want only snap.db", names)
			}
			t.Log(err)
		})
	}
}

// TestVerifyCancelKillsChild: cancelling a verify kills the child at once and leaves the
// file and no rehearsal folder.
func TestVerifyCancelKillsChild(t *testing.T) {
	dir, path := fakeSnapshot(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		waitFile(t, pidfile)
	}()
	start := time.Now()
	_, err := VerifyWith(ctx, path, VerifyOptions{Command: fakeCommand("hang", pidfile)})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("want a cancelled verify, got %v", err)
	}
	assertContains(t, err, "stopped during "+VerifyBolt, "the file was left as it is")
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("cancel took %s", took)
	}
	assertGone(t, pidOf(t, pidfile))
	if names := entries(t, dir); len(names) != 1 || names[0] != "snap.db" {
		t.Fatalf("folder holds %v, want only snap.db", names)
	}
}

// TestVerifyChildDiesWithParent: a verify child whose parent is killed (no chance to
// cancel) is killed by the kernel, not left running.
func TestVerifyChildDiesWithParent(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux only")
	}
	_, path := fakeSnapshot(t)
	pidfile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), "SNAPSHOT_TEST_PARENT="+path, "SNAPSHOT_TEST_PIDFILE="+pidfile)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, pidfile)
	child := pidOf(t, pidfile)
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	assertGone(t, child)
}

func TestRunVerifyChildUsage(t *testing.T) {
	var out bytes.Buffer
	if code := RunVerifyChild([]string{"--", "only-one"}, &out); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
	var ev childEvent
	if err := json.Unmarshal(out.Bytes(), &ev); err != nil || !strings.Contains(ev.Error, "usage: __verify-snapshot [--] SNAPSHOT WORKDIR") {
		t.Fatalf("output %q (%v)", out.String(), err)
	}
}

// TestVerifyRefusesToNest: a binary that does not handle the subcommand runs something
// else as the child; if that calls Verify, it must not start children without end.
func TestVerifyRefusesToNest(t *testing.T) {
	t.Setenv(childEnv, "1")
	dir, path := fakeSnapshot(t)
	_, err := Verify(context.Background(), path)
	assertContains(t, err, "itself a verify child", "wire snapshot.RunVerifyChild")
	if errors.Is(err, ErrCorrupt) {
		t.Fatal("not a corrupt snapshot")
	}
	if names := entries(t, dir); len(names) != 1 || names[0] != "snap.db" {
		t.Fatalf("folder holds %v, want only snap.db", names)
	}
}

func TestCrashSummary(t *testing.T) {
	tests := []struct {
		stderr, want string
		oom          bool
	}{
		{"unexpected fault address 0x7f0000001000\nfatal error: fault\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x7f0000001000 pc=0x4a1d20]\n\n" +
			"goroutine 23 gp=0xc000102a80 m=5 mp=0xc000100008 [running]:\nruntime.throw({0xb3c5f1?, 0x0?})\n\t/usr/local/go/src/runtime/panic.go:1101 +0x48 fp=0xc0000 sp=0xc0000 pc=0x4a1d20\n" +
			"runtime.sigpanic()\n\t/usr/local/go/src/runtime/signal_unix.go:939 +0x26c\n" +
			"go.etcd.io/bbolt/internal/common.(*Page).FastCheck(...)\n\t/root/go/pkg/mod/go.etcd.io/bbolt@v1.5.0/internal/common/page.go:91\n" +
			"go.etcd.io/bbolt.(*Tx).page(0xc0001, 0x400000000)\n\t/root/go/pkg/mod/go.etcd.io/bbolt@v1.5.0/tx.go:640 +0x85\n",
			"unexpected fault address 0x7f0000001000 fatal error: fault [signal SIGSEGV: segmentation violation code=0x1 addr=0x7f0000001000 pc=0x4a1d20] in go.etcd.io/bbolt/internal/common.(*Page).FastCheck", false},
		{"some log line\npanic: assertion failed: page 7 [recovered]\n\tpanic: again\n\ngoroutine 1 [running]:\npanic({0x9, 0x1})\n\t/x/panic.go:1 +0x1\ngo.etcd.io/bbolt.(*Cursor).search(0xc0, {0x1, 0x2}, 0x7)\n\t/x/cursor.go:1 +0x1\n",
			"panic: assertion failed: page 7 [recovered] panic: again in go.etcd.io/bbolt.(*Cursor).search", false},
		{"fatal error: runtime: out of memory\n", "fatal error: runtime: out of memory", true},
		{"Error: unknown command\n", "", false},
	}
	for _, tc := range tests {
		var c crashLog
		for _, chunk := range strings.SplitAfter(tc.stderr, "(") { // written in pieces, as a pipe may
			_, _ = c.Write([]byte(chunk))
		}
		got, oom := c.crash()
		if got != tc.want || oom != tc.oom {
			t.Errorf("crash() = %q, %v\nwant      %q, %v", got, oom, tc.want, tc.oom)
		}
	}
}

func waitFile(t *testing.T, path string) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return
		}
	}
	t.Errorf("%s did not appear", path)
}

func pidOf(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// assertGone waits up to 5 s for pid to be gone (a zombie counts as gone).
func assertGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if runtime.GOOS != "linux" {
			if syscall.Kill(pid, 0) != nil {
				return
			}
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			return
		}
	}
	t.Fatalf("verify child %d is still running", pid)
}
