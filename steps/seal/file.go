package seal

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
)

// bufSize is the one copy buffer sealing uses, whatever the snapshot's size.
const bufSize = 1 << 20

// Sealed describes a sealed file and the plaintext it came from.
type Sealed struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is the hex sha256 of the sealed bytes, what the destination must give back.
	SHA256 string `json:"sha256"`
	// PlainSize and PlainSHA256 are those of the plaintext snapshot.
	PlainSize   int64  `json:"plainSize"`
	PlainSHA256 string `json:"plainSha256"`
	// Recipients are the public keys it was sealed to.
	Recipients []string `json:"recipients"`
}

// SealFile seals the snapshot at plain into plain+Suffix in one pass, hashing both sides:
// it writes <out>.part with mode 0600, fsyncs and renames it. On cancel or error nothing
// is left under either name.
func (r *Recipients) SealFile(ctx context.Context, plain string) (s *Sealed, err error) {
	out := plain + Suffix
	part := out + ".part"
	in, err := os.Open(plain)
	if err != nil {
		return nil, fmt.Errorf("seal %s: %w", plain, err)
	}
	defer in.Close()
	_ = os.Remove(part) // a .part left by a killed run is ours to replace
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("seal %s: create %s: %w", plain, part, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	sealedHash, plainHash := sha256.New(), sha256.New()
	cw := &countWriter{w: io.MultiWriter(f, sealedHash)}
	w, err := r.Writer(cw)
	if err != nil {
		return nil, err
	}
	n, err := io.CopyBuffer(io.MultiWriter(w, plainHash), &ctxReader{ctx: ctx, r: in}, make([]byte, bufSize))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("sealing %s stopped: %w; nothing was left", plain, ctx.Err())
		}
		return nil, fmt.Errorf("seal %s into %s: %w (the partial file was removed)", plain, part, err)
	}
	if err = w.Close(); err != nil {
		return nil, fmt.Errorf("seal %s: finish %s: %w (the partial file was removed)", plain, part, err)
	}
	if err = f.Sync(); err != nil {
		return nil, fmt.Errorf("seal %s: fsync %s: %w (the partial file was removed)", plain, part, err)
	}
	if err = f.Close(); err != nil {
		return nil, fmt.Errorf("seal %s: close %s: %w", plain, part, err)
	}
	if err = os.Rename(part, out); err != nil {
		return nil, fmt.Errorf("seal %s: rename %s: %w", plain, part, err)
	}
	_ = atomicfile.SyncDir(filepath.Dir(out))
	return &Sealed{
		Path: out, Size: cw.n, SHA256: hex.EncodeToString(sealedHash.Sum(nil)),
		PlainSize: n, PlainSHA256: hex.EncodeToString(plainHash.Sum(nil)), Recipients: r.Keys(),
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// ctxReader stops a long read when the context ends.
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

// OpenTo decrypts src into the file out (through out.part, mode 0600, renamed when
// complete) and returns the plaintext's size and hex sha256. On any error nothing is
// left under either name; a wrong identity or damaged data wrap ErrWrongIdentity or
// ErrDamaged.
func (ids *Identities) OpenTo(ctx context.Context, src io.Reader, out string) (n int64, sum string, err error) {
	plain, err := ids.Open(src)
	if err != nil {
		return 0, "", err
	}
	part := out + ".part"
	_ = os.Remove(part)
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, "", fmt.Errorf("create %s: %w", part, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	h := sha256.New()
	n, err = io.CopyBuffer(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: plain}, make([]byte, bufSize))
	if err != nil {
		if errors.Is(err, ErrDamaged) {
			return 0, "", fmt.Errorf("%w after %d plaintext bytes: it was changed or cut after it was sealed; do not restore from it", err, n)
		}
		return 0, "", err
	}
	if err = f.Sync(); err != nil {
		return 0, "", err
	}
	if err = f.Close(); err != nil {
		return 0, "", err
	}
	if err = os.Rename(part, out); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}
