//go:build unix

package certs

import (
	"io/fs"
	"os"
	"syscall"
)

// fileOwner returns the numeric owner of a file.
func fileOwner(info fs.FileInfo) (int, bool) {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), true
	}
	return 0, false
}

// runningUID is the effective user id of this process.
func runningUID() int { return os.Geteuid() }
