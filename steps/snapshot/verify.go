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
	// Rehearse adds the restore rehearsal (Rehearse runs it later on its own).
	Rehearse bool
	// Trailer is the trailer step's message when the save already checked the sha256
	// trailer while the snapshot streamed (Result.Trailer): the file is not read again.
	Trailer string
	// OnRevision, when not nil, is told the snapshot's revision as soon as the child has
	// read it, before the checks: the member can hash while the file is read.
	OnRevision func(rev int64)
	// LeaveCorrupt leaves a snapshot that fails where it is instead of renaming it aside:
	// for a file someone else's job wrote and keeps (`snapshot verify`).
	LeaveCorrupt bool
}

// Verify is VerifyWith with the default options.
func Verify(ctx context.Context, path string) (*Verification, error) {
	return VerifyWith(ctx, path, VerifyOptions{})
}

// VerifyWith checks a saved snapshot, stopping at the first failed step:
//   - the sha256 trailer (size % 512 == 32, last 32 bytes are the sha256 of the rest),
//     streamed through a 1 MiB buffer, unless the save checked it (opts.Trailer);
//   - a bbolt consistency check (Tx.Check on a read-only open) and the status (revision,
//     key count, size, storage version, the KV hash at the snapshot's revision) from one
//     read of the file, side by side (inspect);
//   - with opts.Rehearse, a restore rehearsal (see Rehearse).
//
// Those after the trailer open the file with bbolt, which can fault on a damaged file in
// a way no recover() catches, so they run in a child process (opts.Command); a child that
// crashes while checking counts as a failed step (ErrCrashed). Cancelling ctx kills it.
//
// A snapshot that fails a step is renamed to <path>.corrupt (unless opts.LeaveCorrupt)
// and the error, which wraps ErrCorrupt, says so. The Verification is returned in every
// case where the file existed.
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
	msg, err := opts.Trailer, error(nil)
	if msg == "" {
		msg, err = checkTrailer(ctx, path, fi.Size())
	}
	if err != nil && ctx.Err() != nil {
		return v, stopped(path, "during", VerifyTrailer, ctx.Err())
	}
	step := Step{Name: VerifyTrailer, Status: StatusPass, Message: msg, Took: time.Since(start)}
	if err != nil {
		step.Status, step.Message = StatusFail, err.Error()
		v.Steps = append(v.Steps, step)
		return v, markCorrupt(v, VerifyTrailer, err, opts)
	}
	v.Steps = append(v.Steps, step)
	if err := ctx.Err(); err != nil {
		return v, stopped(path, "before", VerifyBolt, err)
	}
	mode := modeInspect
	if opts.Rehearse {
		mode = modeAll
	}
	if err := verifyInChild(ctx, v, opts, mode); err != nil {
		return v, err
	}
	v.OK = true
	return v, nil
}

// Rehearse runs the restore rehearsal on a snapshot VerifyWith passed: etcdutl's Restore
// into a temporary folder next to the snapshot (CheckDest made sure there is room for a
// second copy; /tmp may be small), then the restored db's KV hash and key count compared
// with the snapshot's. It proves etcdutl restores the file; the comparison with the
// member's KV hash already proves the content, so the doors run it when asked or when
// that comparison could not be made. A failure marks the file corrupt like VerifyWith.
func Rehearse(ctx context.Context, v *Verification, opts VerifyOptions) error {
	if !v.OK {
		return fmt.Errorf("rehearse %s: the snapshot did not pass its verification", v.Path)
	}
	if err := verifyInChild(ctx, v, opts, modeRehearsal); err != nil {
		v.OK = false
		return err
	}
	return nil
}

// Rehearsed reports whether the restore rehearsal ran and passed.
func (v *Verification) Rehearsed() bool {
	for _, s := range v.Steps {
		if s.Name == VerifyRehearsal {
			return s.Status == StatusPass
		}
	}
	return false
}

// stopped is the error of a cancelled verify: the file stays where it is.
func stopped(path, when, step string, err error) error {
	return fmt.Errorf("verify %s stopped %s %s: %w; the file was left as it is, verify it again", path, when, step, err)
}

// markCorrupt renames the snapshot aside so nobody restores from it by mistake, unless
// opts.LeaveCorrupt.
func markCorrupt(v *Verification, step string, cause error, opts VerifyOptions) error {
	if opts.LeaveCorrupt {
		return fmt.Errorf("%w: SNAPSHOT %s FAILED THE %s CHECK: %w; do not restore from it", ErrCorrupt, v.Path, strings.ToUpper(step), cause)
	}
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
	readAhead(f)
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

// rehearse restores the snapshot into work/data, work being a folder beside the
// snapshot that the parent made and removes, and reads the restored db's KV hash and key
// count. The trailer was checked before, so etcdutl does not read the copy again for it.
func rehearse(lg *zap.Logger, path, work string) (kv *KVHash, err error) {
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
		SkipHashCheck:       true,
	})
	if err != nil {
		return nil, fmt.Errorf("etcdutl restore failed: %w", err)
	}
	if kv, err = HashFile(filepath.Join(dataDir, "member", "snap", "db"), 0); err != nil {
		return nil, fmt.Errorf("the restored db cannot be read: %w", err)
	}
	return kv, nil
}

// recoverInto turns a panic in bbolt or etcdutl on a damaged file into an error.
func recoverInto(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("the file is damaged (reading it panicked: %v)", r)
	}
}
