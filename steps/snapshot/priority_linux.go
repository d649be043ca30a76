package snapshot

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// yieldThread gives the calling goroutine a thread of its own at nice 10, for the rest of
// the goroutine's life: the thread is never unlocked, so it ends with the goroutine and
// its priority with it. The inspection runs so beside the restore rehearsal, the longer of
// the two, which then keeps a core to itself (Linux sets nice per thread).
func yieldThread() {
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 10)
}
