package snapshot

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache tells the kernel the file's pages will not be read again soon: a snapshot as
// large as etcd's database would otherwise push etcd's own pages out of the page cache.
func dropCache(path string) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
}

// readAhead says f is read once from start to end, so the kernel may read further ahead.
func readAhead(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_SEQUENTIAL)
}
