//go:build !unix

package plan

import (
	"io/fs"
	"os"
)

// owner is a file's numeric owner; -1 means "leave as created".
type owner struct{ uid, gid int }

// ownerOf has no owner to report off Unix.
func ownerOf(fs.FileInfo) owner { return owner{uid: -1, gid: -1} }

// chown does nothing off Unix.
func chown(*os.File, owner) error { return nil }
