//go:build !linux

package snapshot

import "os"

// dropCache and readAhead are hints that only Linux takes (posix_fadvise); elsewhere the
// page cache is left to the kernel.
func dropCache(string) {}

func readAhead(*os.File) {}
