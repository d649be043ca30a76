//go:build !linux

package snapshot

// yieldThread does nothing where nice is per process (see priority_linux.go).
func yieldThread() {}
