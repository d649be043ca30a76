package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// bufSize is the one copy buffer a save uses, whatever the snapshot's size.
const bufSize = 1 << 20

// progressEvery throttles the progress callback; the first chunk is always reported.
const progressEvery = 100 * time.Millisecond

// Progress is what Save reports while the snapshot streams.
type Progress struct {
	Bytes   int64         `json:"bytes"`
	Total   int64         `json:"total"` // DB size from the endpoint's Status; 0 when unknown
	Speed   float64       `json:"bytesPerSecond"`
	ETA     time.Duration `json:"etaNs"` // 0 when unknown or done
	Elapsed time.Duration `json:"elapsedNs"`
}

// Result describes a saved snapshot.
type Result struct {
	Path     string `json:"path"`
	Endpoint string `json:"endpoint"`
	Size     int64  `json:"size"`
	// DBSize is the endpoint's DB size before the save (Status.DbSize).
	DBSize   int64         `json:"dbSize"`
	Duration time.Duration `json:"durationNs"`
	Speed    float64       `json:"bytesPerSecond"`
	// ServerVersion is the member's etcd version (Status.Version).
	ServerVersion string `json:"serverVersion"`
	// StorageVersion is the storage version the stream reports; "" before etcd 3.6.
	StorageVersion string `json:"storageVersion,omitempty"`
	// Trailer says that the sha256 trailer matched, checked while the snapshot streamed,
	// so the verification need not read the file again for it (VerifyOptions.Trailer).
	Trailer string `json:"trailer"`
}

// DefaultName is a snapshot name for a save at t: etcd-snapshot-20060102T150405Z.
func DefaultName(t time.Time) string {
	return "etcd-snapshot-" + t.UTC().Format("20060102T150405Z")
}

// PartPath is where Save streams a snapshot before it is complete.
func PartPath(dest, name string) string { return filepath.Join(dest, name+".db.part") }

// FinalPath is where Save leaves a complete snapshot.
func FinalPath(dest, name string) string { return filepath.Join(dest, name+".db") }

// Save streams a snapshot of cfg's single endpoint into dest/<name>.db.
//
// It follows go.etcd.io/etcd/client/v3/snapshot.SaveWithVersion (write <name>.db.part with
// mode 0600, require etcd's sha256 trailer, fsync, rename) but drives
// Maintenance.SnapshotWithVersion itself, because SaveWithVersion has no progress callback
// and its io.Copy cannot be observed. Doing it here also gives one fixed 1 MiB buffer,
// a refusal to overwrite an existing snapshot and an fsync of the folder after the rename.
// The storage version comes from the stream (SnapshotWithVersion; "" before etcd 3.6), the
// server version and Progress.Total from the endpoint's Status (DbSize; the stream is the
// DB plus etcd's 32-byte sha256 trailer).
//
// Cancel ctx to stop (Ctrl-C); on cancel or any error the .part file is removed and no
// <name>.db is left. cfg.Logger nil means a no-op logger; cfg.DialTimeout (10 s when 0)
// bounds the first Status call, so an unreachable endpoint fails quickly.
func Save(ctx context.Context, cfg clientv3.Config, dest, name string, progress func(Progress)) (*Result, error) {
	if len(cfg.Endpoints) != 1 {
		return nil, errEndpoints(cfg.Endpoints)
	}
	m, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return m.save(ctx, dest, name, progress)
}

// save is Save over an open client.
func (m *member) save(ctx context.Context, dest, name string, progress func(Progress)) (res *Result, err error) {
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("snapshot name %q is not a plain file name; use something like %s", name, DefaultName(time.Now()))
	}
	endpoint := m.endpoint
	final, part := FinalPath(dest, name), PartPath(dest, name)
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("%s already exists; choose another snapshot name (nothing was written)", final)
	}
	st, err := m.status(ctx)
	if err != nil {
		return nil, err
	}
	res = &Result{Path: final, Endpoint: endpoint, DBSize: st.DbSize, ServerVersion: st.Version}

	// A .part left by a killed run is ours to replace; remove it so the new one gets 0600.
	if _, err := os.Lstat(part); err == nil {
		if err := os.Remove(part); err != nil {
			return nil, fmt.Errorf("remove stale %s: %w; remove it by hand", part, err)
		}
	}
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w; check --dest is a writable folder (run the destination checks)", part, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			if rerr := os.Remove(part); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				err = fmt.Errorf("%w (and %s could not be removed: %v; remove it by hand)", err, part, rerr)
			}
		}
	}()

	start := time.Now()
	resp, err := m.cli.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, streamError(ctx, endpoint, part, 0, err)
	}
	defer resp.Snapshot.Close()
	res.StorageVersion = resp.Version

	sum := &trailerSum{h: sha256.New()}
	w := &meter{w: f, sum: sum, total: st.DbSize, start: start, progress: progress}
	n, err := io.CopyBuffer(w, resp.Snapshot, make([]byte, bufSize))
	if err != nil {
		if w.werr != nil {
			return nil, fmt.Errorf("write %s after %s: %w; the destination is full or over a file-size limit: free space or choose another --dest (the partial file was removed)",
				part, HumanBytes(n), w.werr)
		}
		return nil, streamError(ctx, endpoint, part, n, err)
	}
	if n%512 != sha256.Size {
		return nil, fmt.Errorf("the stream from %s ended after %s without etcd's sha256 trailer; the snapshot is incomplete, try again (the partial file was removed)", endpoint, HumanBytes(n))
	}
	if res.Trailer, err = sum.check(n); err != nil {
		return nil, fmt.Errorf("the snapshot from %s arrived damaged: %w (the partial file was removed); try again", endpoint, err)
	}
	if err = f.Sync(); err != nil {
		return nil, fmt.Errorf("fsync %s: %w; the destination may be full or failing (the partial file was removed)", part, err)
	}
	if err = f.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w (the partial file was removed)", part, err)
	}
	if err = os.Rename(part, final); err != nil {
		return nil, fmt.Errorf("rename %s to %s: %w (the partial file was removed)", part, final, err)
	}
	_ = atomicfile.SyncDir(dest) // the snapshot is good; a failed folder sync is not worth failing it for
	res.Size, res.Duration = n, time.Since(start)
	res.Speed = rate(n, res.Duration)
	w.report(true)
	return res, nil
}

// trailerSum hashes a stream with sha256 except its last 32 bytes, held back until the
// stream ends: they are etcd's trailer, the sha256 of what came before.
type trailerSum struct {
	h    hash.Hash
	tail []byte
}

func (t *trailerSum) Write(p []byte) (int, error) {
	k := len(t.tail)
	over := k + len(p) - sha256.Size // bytes that can no longer be part of the trailer
	switch {
	case over <= 0:
		t.tail = append(t.tail, p...)
	case over <= k:
		t.h.Write(t.tail[:over])
		t.tail = append(append(t.tail[:0], t.tail[over:]...), p...)
	default:
		t.h.Write(t.tail)
		t.h.Write(p[:over-k])
		t.tail = append(t.tail[:0], p[over-k:]...)
	}
	return len(p), nil
}

// check compares the held-back trailer with the sha256 of the n-32 bytes before it.
func (t *trailerSum) check(n int64) (string, error) {
	got := t.h.Sum(nil)
	if !bytes.Equal(got, t.tail) {
		return "", fmt.Errorf("the sha256 of the first %d bytes is %x, the trailer says %x", n-sha256.Size, got[:8], t.tail[:min(8, len(t.tail))])
	}
	return fmt.Sprintf("sha256 %x… matches over %s (checked while it streamed)", got[:8], HumanBytes(n-sha256.Size)), nil
}

// streamError turns a failed snapshot stream into an actionable error.
func streamError(ctx context.Context, endpoint, part string, n int64, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("snapshot of %s stopped after %s: %w; removed %s, nothing was saved", endpoint, HumanBytes(n), ctx.Err(), part)
	}
	return fmt.Errorf("snapshot stream from %s failed after %s: %w; removed %s, nothing was saved", endpoint, HumanBytes(n), err, part)
}

// meter counts bytes on their way to the file and reports progress, throttled.
type meter struct {
	w        io.Writer
	sum      io.Writer // sees what was written
	n, total int64
	start    time.Time
	last     time.Time
	progress func(Progress)
	werr     error
}

// Write is not io.ReaderFrom on purpose: io.CopyBuffer then uses the one fixed buffer.
func (m *meter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
	m.sum.Write(p[:n])
	m.n += int64(n)
	if err != nil {
		m.werr = err
		return n, err
	}
	m.report(false)
	return n, nil
}

func (m *meter) report(done bool) {
	if m.progress == nil {
		return
	}
	now := time.Now()
	if !done && !m.last.IsZero() && now.Sub(m.last) < progressEvery {
		return
	}
	m.last = now
	p := Progress{Bytes: m.n, Total: m.total, Elapsed: now.Sub(m.start)}
	p.Speed = rate(m.n, p.Elapsed)
	if !done && p.Speed > 0 && m.total > m.n {
		p.ETA = time.Duration(float64(m.total-m.n) / p.Speed * float64(time.Second))
	}
	m.progress(p)
}

func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// withNopLogger keeps the client quiet: its default logger writes to stderr.
func withNopLogger(cfg clientv3.Config) clientv3.Config {
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return cfg
}

func errEndpoints(eps []string) error {
	return fmt.Errorf("a snapshot is taken from one member, got %d endpoints %v; pass exactly one --endpoints", len(eps), eps)
}

// member is one client of one etcd endpoint, for everything a test asks of it: its
// status, the snapshot stream and its KV hash.
type member struct {
	cli      *clientv3.Client
	cfg      clientv3.Config
	endpoint string
}

// dial makes the one client of cfg's single endpoint (no network traffic yet).
func dial(cfg clientv3.Config) (*member, error) {
	if len(cfg.Endpoints) != 1 {
		return nil, errEndpoints(cfg.Endpoints)
	}
	cfg = withNopLogger(cfg)
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %s: %w; check --endpoints, --cacert, --cert and --key", cfg.Endpoints[0], err)
	}
	return &member{cli: cli, cfg: cfg, endpoint: cfg.Endpoints[0]}, nil
}

func (m *member) Close() error { return m.cli.Close() }

// timeout is the client's dial timeout, 10 s when unset.
func (m *member) timeout() time.Duration {
	if m.cfg.DialTimeout > 0 {
		return m.cfg.DialTimeout
	}
	return 10 * time.Second
}

// status asks the endpoint for its status within the dial timeout, so that an
// unreachable endpoint fails quickly even when ctx has no deadline.
func (m *member) status(ctx context.Context) (*clientv3.StatusResponse, error) {
	timeout := m.timeout()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := m.cli.Status(sctx, m.endpoint)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("status request to etcd at %s stopped: %w; nothing was written", m.endpoint, ctx.Err())
		}
		// gRPC's retries end in a bare deadline error; the connection check names the cause.
		if cause := etcdconn.CheckConfig(ctx, m.cfg); cause != nil {
			return nil, fmt.Errorf("etcd did not answer a status request within %s: %w", timeout, cause)
		}
		return nil, fmt.Errorf("etcd at %s did not answer a status request within %s: %w; check that it is healthy (etcdctl endpoint health) and --endpoints", m.endpoint, timeout, err)
	}
	return st, nil
}

// hashKV asks the endpoint for its KV hash at rev (a HashKVFunc).
func (m *member) hashKV(ctx context.Context, rev int64) (uint32, int64, error) {
	// Hashing reads the member's whole key history: give it room beyond the dial.
	hctx, cancel := context.WithTimeout(ctx, 6*m.timeout())
	defer cancel()
	resp, err := m.cli.HashKV(hctx, m.endpoint, rev)
	if err != nil {
		return 0, 0, err
	}
	return resp.Hash, resp.CompactRevision, nil
}
