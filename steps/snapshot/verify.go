package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// ErrCorrupt marks a snapshot that failed verification; Verify has renamed it aside.
var ErrCorrupt = errors.New("snapshot is corrupt")

// CorruptSuffix is appended to a snapshot that failed verification.
const CorruptSuffix = ".corrupt"

// NoStorageVersion is what the report says when the snapshot carries no storage version.
const NoStorageVersion = "not reported (etcd < 3.6)"

// Names of the verification steps, in order.
const (
	VerifyTrailer   = "sha256 trailer"
	VerifyBolt      = "bbolt consistency"
	VerifyStatus    = "status"
	VerifyRehearsal = "restore rehearsal"
)

// Step is one verification step with its timing.
type Step struct {
	Name    string        `json:"name"`
	Status  Status        `json:"status"`
	Message string        `json:"message"`
	Took    time.Duration `json:"tookNs"`
}

// Verification is what Verify found out about a snapshot file.
type Verification struct {
	Path string `json:"path"`
	OK   bool   `json:"ok"`
	// CorruptPath is where the file was moved when a step failed.
	CorruptPath string `json:"corruptPath,omitempty"`
	Size        int64  `json:"size"`
	Revision    int64  `json:"revision"`
	TotalKeys   int    `json:"totalKeys"`
	// TotalSize is the bbolt size etcdutl's Status reports.
	TotalSize int64  `json:"totalSize"`
	Hash      uint32 `json:"hash"`
	// StorageVersion is "" when the snapshot has none (etcd < 3.6); StorageVersionText then
	// says so in words.
	StorageVersion     string `json:"storageVersion,omitempty"`
	StorageVersionText string `json:"storageVersionText"`
	RestoredKeys       int    `json:"restoredKeys"`
	// KV is the snapshot's KV hash at its revision, as etcd's HashKV computes it.
	KV    *KVHash `json:"kvHash,omitempty"`
	Steps []Step  `json:"steps"`
}

// VerifyOptions are the optional inputs of VerifyWith.
type VerifyOptions struct {
	// Command makes the command that runs the bbolt checks in a child process, given
	// the child's arguments (see RunVerifyChild). Default: this executable's
	// hidden VerifySubcommand (selfexec.Command). Tests point it at the test binary.
	Command func(args []string) *exec.Cmd
}

// Verify is VerifyWith with the default options.
func Verify(ctx context.Context, path string) (*Verification, error) {
	return VerifyWith(ctx, path, VerifyOptions{})
}

// VerifyWith checks a saved snapshot, stopping at the first failed step:
//   - the sha256 trailer (size % 512 == 32, last 32 bytes are the sha256 of the rest),
//     streamed through a 1 MiB buffer;
//   - a bbolt consistency check (Tx.Check on a read-only open);
//   - etcdutl's Status: revision, key count, size, storage version, and the KV hash at
//     the snapshot's revision (HashFile);
//   - a restore rehearsal: etcdutl's Restore into a temporary folder next to the snapshot
//     (CheckDest made sure there is room for a second copy; /tmp may be small), then the
//     restored db opened read-only and its key count compared with Status's.
//
// The last three open the file with bbolt, which can fault on a damaged file in a way
// no recover() catches, so they run in a child process (opts.Command); a child that
// crashes while checking counts as a failed step (ErrCrashed). Cancelling ctx kills it.
//
// A snapshot that fails a step is renamed to <path>.corrupt and the error, which wraps
// ErrCorrupt, says so. The Verification is returned in every case where the file existed.
func VerifyWith(ctx context.Context, path string, opts VerifyOptions) (*Verification, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("verify %s: %w; pass the path of a saved snapshot", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("verify %s: not a regular file; pass the path of a saved snapshot", path)
	}
	v := &Verification{Path: path, Size: fi.Size(), StorageVersionText: NoStorageVersion}
	if err := ctx.Err(); err != nil {
		return v, stopped(path, "before", VerifyTrailer, err)
	}
	start := time.Now()
	msg, err := checkTrailer(ctx, path, fi.Size())
	if err != nil && ctx.Err() != nil {
		return v, stopped(path, "during", VerifyTrailer, ctx.Err())
	}
	step := Step{Name: VerifyTrailer, Status: StatusPass, Message: msg, Took: time.Since(start)}
	if err != nil {
		step.Status, step.Message = StatusFail, err.Error()
		v.Steps = append(v.Steps, step)
		return v, markCorrupt(v, VerifyTrailer, err)
	}
	v.Steps = append(v.Steps, step)
	if err := ctx.Err(); err != nil {
		return v, stopped(path, "before", VerifyBolt, err)
	}
	if err := verifyInChild(ctx, v, opts); err != nil {
		return v, err
	}
	v.OK = true
	return v, nil
}

// stopped is the error of a cancelled verify: the file stays where it is.
func stopped(path, when, step string, err error) error {
	return fmt.Errorf("verify %s stopped %s %s: %w; the file was left as it is, verify it again", path, when, step, err)
}

// markCorrupt renames the snapshot aside so nobody restores from it by mistake.
func markCorrupt(v *Verification, step string, cause error) error {
	aside := v.Path + CorruptSuffix
	if err := os.Rename(v.Path, aside); err != nil {
		return fmt.Errorf("%w: SNAPSHOT %s FAILED THE %s CHECK: %w; it could not be renamed aside (%v): delete it, do not restore from it, and take a new snapshot",
			ErrCorrupt, v.Path, strings.ToUpper(step), cause, err)
	}
	v.CorruptPath = aside
	return fmt.Errorf("%w: SNAPSHOT %s FAILED THE %s CHECK: %w; moved it aside to %s: do not restore from it, take a new snapshot",
		ErrCorrupt, v.Path, strings.ToUpper(step), cause, aside)
}

// checkTrailer streams the file through sha256 and compares the last 32 bytes.
func checkTrailer(ctx context.Context, path string, size int64) (string, error) {
	if size%512 != sha256.Size {
		return "", fmt.Errorf("size %d bytes is not a saved snapshot's (size %% 512 is %d, want 32): the file is truncated or was not written by a snapshot save", size, size%512)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	body := &ctxReader{ctx: ctx, r: io.LimitReader(f, size-sha256.Size)}
	if _, err := io.CopyBuffer(h, body, make([]byte, bufSize)); err != nil {
		return "", err
	}
	want := make([]byte, sha256.Size)
	if _, err := io.ReadFull(f, want); err != nil {
		return "", err
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return "", fmt.Errorf("the sha256 of the first %d bytes is %x, the trailer says %x: the file was changed or damaged after etcd wrote it", size-sha256.Size, got[:8], want[:8])
	}
	return fmt.Sprintf("sha256 %x… matches over %s", want[:8], HumanBytes(size-sha256.Size)), nil
}

// ctxReader stops a long read when the context ends (Ctrl-C during verify).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// checkBolt opens the file read-only and runs bbolt's consistency check.
func checkBolt(path string) (msg string, err error) {
	defer recoverInto(&err)
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return "", fmt.Errorf("bbolt cannot open it: %w", err)
	}
	defer db.Close()
	var problems []string
	var pages int
	err = db.View(func(tx *bolt.Tx) error {
		pages = int(tx.Size() / int64(db.Info().PageSize))
		for e := range tx.Check() {
			problems = append(problems, e.Error())
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return "", fmt.Errorf("bbolt found %d problem(s): %s", len(problems), strings.Join(problems, "; "))
	}
	return fmt.Sprintf("bbolt check found no problems in %d pages", pages), nil
}

// rehearse restores the snapshot into work/data, work being a folder beside the
// snapshot that the parent made and removes, and counts the keys of the restored db.
func rehearse(lg *zap.Logger, path, work string) (n int, err error) {
	defer recoverInto(&err)
	const peer = "http://127.0.0.1:2380"
	dataDir := filepath.Join(work, "data")
	err = etcdutl.NewV3(lg).Restore(etcdutl.RestoreConfig{
		SnapshotPath:        path,
		Name:                "rehearsal",
		OutputDataDir:       dataDir,
		PeerURLs:            []string{peer},
		InitialCluster:      "rehearsal=" + peer,
		InitialClusterToken: "etcd-harden-rehearsal",
	})
	if err != nil {
		return 0, fmt.Errorf("etcdutl restore failed: %w", err)
	}
	st, err := etcdutl.NewV3(lg).Status(filepath.Join(dataDir, "member", "snap", "db"))
	if err != nil {
		return 0, fmt.Errorf("the restored db cannot be read: %w", err)
	}
	return st.TotalKey, nil
}

// recoverInto turns a panic in bbolt or etcdutl on a damaged file into an error.
func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the file is damaged (reading it panicked: %v)", r)
	}
}
