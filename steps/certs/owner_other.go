//go:build !unix

package certs

import "io/fs"

// fileOwner returns false: owners are not checked on this system.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }

// runningUID is -1 where user ids do not exist.
func runningUID() int { return -1 }
