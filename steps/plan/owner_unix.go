//go:build unix

package plan

import (
	"io/fs"
	"os"
	"syscall"
)

// owner is a file's numeric owner; -1 means "leave as created".
type owner struct{ uid, gid int }

// ownerOf reads the owner from a stat result.
func ownerOf(info fs.FileInfo) owner {
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		return owner{uid: int(st.Uid), gid: int(st.Gid)}
	}
	return owner{uid: -1, gid: -1}
}

// chown gives f the owner own, only when it differs (so that non-root runs work on
// their own files).
func chown(f *os.File, own owner) error {
	if own.uid < 0 && own.gid < 0 {
		return nil
	}
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if ownerOf(info) == own {
		return nil
	}
	return f.Chown(own.uid, own.gid)
}
