// Package atomicfile replaces files so that a crash leaves the old content or the new,
// never a mix: the project's one writer for files it owns (the plan's targets and
// backups, the schedule files, the lab's state).
package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TempMark is part of every temporary file name Write creates next to its target, so
// that one left by a killed process is found by name (RemoveTemps). Temp names start
// with a dot, which kubelet skips in the manifests folder.
const TempMark = ".etcd-harden-tmp-"

// Options tune Write; the zero value writes with no extra step and no hook.
type Options struct {
	// Prepare runs on the complete temporary file before it is synced, e.g. to set its
	// owner; an error stops the write and removes the file.
	Prepare func(*os.File) error
	// Hook, for crash tests, is called at each point where the process could die:
	// "temp" (the temporary file is complete), "rename", "synced" (the folder too).
	Hook func(point string)
}

// Write replaces file with data and mode: a temporary file in the same folder is
// written, given its mode, prepared, synced and renamed over file, then the folder is
// synced so that the rename survives a crash.
func Write(file string, data []byte, mode fs.FileMode, o Options) error {
	hook := o.Hook
	if hook == nil {
		hook = func(string) {}
	}
	dir, base := filepath.Split(file)
	f, err := os.CreateTemp(dir, "."+base+TempMark+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(mode); err != nil {
		return fail(err)
	}
	if o.Prepare != nil {
		if err := o.Prepare(f); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", file, err)
	}
	hook("temp")
	if err := os.Rename(tmp, file); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", file, err)
	}
	hook("rename")
	if err := SyncDir(dir); err != nil {
		return err
	}
	hook("synced")
	return nil
}

// SyncDir makes a folder's entries (a rename, a new file) durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}

// RemoveTemps deletes the temporary files a killed Write left next to file.
func RemoveTemps(file string) {
	dir, base := filepath.Split(file)
	matches, _ := filepath.Glob(filepath.Join(dir, "."+globEscape(base)+TempMark+"*"))
	for _, m := range matches {
		os.Remove(m)
	}
}

func globEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}
