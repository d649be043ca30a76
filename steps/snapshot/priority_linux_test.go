package snapshot

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestYieldThreadLowersOnlyItsOwnThread: the goroutine that yields runs at nice 10, the
// goroutines around it do not, and its thread goes away with it.
func TestYieldThreadLowersOnlyItsOwnThread(t *testing.T) {
	mine := niceOf(t, unix.Gettid())
	got := make(chan int)
	go func() {
		yieldThread()
		got <- niceOf(t, unix.Gettid())
	}()
	if n := <-got; n != mine+10 {
		t.Fatalf("the yielding thread runs at nice %d, want %d", n, mine+10)
	}
	if n := niceOf(t, unix.Gettid()); n != mine {
		t.Fatalf("this goroutine's thread runs at nice %d, want %d", n, mine)
	}
	// The yielding goroutine has ended; its thread exits soon after it, or parks for
	// good when it is the main thread (the runtime never ends that one).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		lowered := 0
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			if tid, _ := strconv.Atoi(task.Name()); tid != os.Getpid() && niceOf(t, tid) != mine {
				lowered++
			}
		}
		if lowered == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d thread(s) still run at a lower priority after the goroutine ended", lowered)
		}
	}
}

// niceOf reads a thread's nice value from /proc (field 19 of stat, after the command).
func niceOf(t *testing.T, tid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/stat")
	if err != nil {
		return 0 // the thread ended meanwhile
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatalf("stat of thread %d: %v", tid, err)
	}
	return n
}
