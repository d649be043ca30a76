package snapshot

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
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
func Save(ctx context.Context, cfg clientv3.Config, dest, name string, progress func(Progress)) (res *Result, err error) {
	if len(cfg.Endpoints) != 1 {
		return nil, errEndpoints(cfg.Endpoints)
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return nil, fmt.Errorf("snapshot name %q is not a plain file name; use something like %s", name, DefaultName(time.Now()))
	}
	endpoint := cfg.Endpoints[0]
	final, part := FinalPath(dest, name), PartPath(dest, name)
	if _, err := os.Lstat(final); err == nil {
		return nil, fmt.Errorf("%s already exists; choose another snapshot name (nothing was written)", final)
	}
	cfg = withNopLogger(cfg)
	cli, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %s: %w; check --endpoints, --cacert, --cert and --key", endpoint, err)
	}
	defer cli.Close()

	st, err := status(ctx, cli, cfg)
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
	resp, err := cli.SnapshotWithVersion(ctx)
	if err != nil {
		return nil, streamError(ctx, endpoint, part, 0, err)
	}
	defer resp.Snapshot.Close()
	res.StorageVersion = resp.Version

	w := &meter{w: f, total: st.DbSize, start: start, progress: progress}
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
	n, total int64
	start    time.Time
	last     time.Time
	progress func(Progress)
	werr     error
}

// Write is not io.ReaderFrom on purpose: io.CopyBuffer then uses the one fixed buffer.
func (m *meter) Write(p []byte) (int, error) {
	n, err := m.w.Write(p)
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

// status asks the endpoint for its status within cfg.DialTimeout (10 s when 0), so that an
// unreachable endpoint fails quickly even when ctx has no deadline.
func status(ctx context.Context, cli *clientv3.Client, cfg clientv3.Config) (*clientv3.StatusResponse, error) {
	timeout := cfg.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := cli.Status(sctx, cfg.Endpoints[0])
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("status request to etcd at %s stopped: %w; nothing was written", cfg.Endpoints[0], ctx.Err())
		}
		// gRPC's retries end in a bare deadline error; the connection check names the cause.
		if cause := etcdconn.CheckConfig(ctx, cfg); cause != nil {
			return nil, fmt.Errorf("etcd did not answer a status request within %s: %w", timeout, cause)
		}
		return nil, fmt.Errorf("etcd at %s did not answer a status request within %s: %w; check that it is healthy (etcdctl endpoint health) and --endpoints", cfg.Endpoints[0], timeout, err)
	}
	return st, nil
}
