package offsite

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// ErrTampered is wrapped by Fetch's error when the bytes fetched are not the ones uploaded.
var ErrTampered = errors.New("the snapshot was changed after it was uploaded")

// ErrNeedIdentity is wrapped by Fetch's error for a sealed snapshot and no identity.
var ErrNeedIdentity = errors.New("the snapshot is sealed with age")

// FetchRequest is what `snapshot fetch` asks.
type FetchRequest struct {
	// Src is an s3://BUCKET/KEY URL, an s3://BUCKET/PREFIX/ URL (ending in "/": the newest
	// snapshot this tool wrote there), or a local path.
	Src string
	// Out is the plaintext snapshot file to leave; it must not exist.
	Out   string
	Store Config
	// Identity opens a sealed snapshot; nil for plaintext.
	Identity *seal.Identities
	// Verify are the options of the verification of Out (tests set Command).
	Verify snapshot.VerifyOptions
}

// Fetched is what Fetch brought back.
type Fetched struct {
	Src string `json:"src"`
	Out string `json:"out"`
	// Object is the store's view of it; nil for a local path.
	Object *Object `json:"object,omitempty"`
	Sealed bool    `json:"sealed"`
	// Size and SHA256 are those of the bytes fetched (sealed, when Sealed).
	Size         int64                  `json:"size"`
	SHA256       string                 `json:"sha256"`
	PlainSize    int64                  `json:"plainSize"`
	PlainSHA256  string                 `json:"plainSha256"`
	Verification *snapshot.Verification `json:"verification,omitempty"`
}

// Fetch is the way back: it downloads Src (or reads a local path), decrypts it when it is
// sealed, compares the bytes with the sha256 the object carries, writes Out (through
// Out.part, mode 0600) and verifies Out as a saved snapshot is verified. Out is then a file
// `etcdutl snapshot restore` takes. On any failure before the verification nothing is left
// under Out; a file that fails the verification is moved aside (snapshot.Verify).
func Fetch(ctx context.Context, r FetchRequest) (*Fetched, error) {
	if r.Out == "" {
		return nil, errors.New("no output file: pass -o FILE")
	}
	if _, err := os.Lstat(r.Out); err == nil {
		return nil, fmt.Errorf("%s already exists; choose another -o (nothing was fetched)", r.Out)
	}
	f := &Fetched{Src: r.Src, Out: r.Out}
	src, want, err := openSource(ctx, r, f)
	if err != nil {
		return f, err
	}
	defer src.Close()
	raw := sha256.New()
	counted := &countingReader{r: src}
	br := bufio.NewReaderSize(io.TeeReader(counted, raw), 1<<20)
	head, _ := br.Peek(seal.MagicLen)
	f.Sealed = seal.IsSealed(head)
	if f.Sealed && r.Identity == nil {
		return f, fmt.Errorf("%w: pass --identity FILE with the private key matching one of its recipients (nothing was fetched)", ErrNeedIdentity)
	}
	if f.Sealed {
		f.PlainSize, f.PlainSHA256, err = r.Identity.OpenTo(ctx, br, r.Out)
	} else {
		f.PlainSize, f.PlainSHA256, err = copyTo(ctx, br, r.Out)
	}
	if err != nil {
		if errors.Is(err, seal.ErrDamaged) {
			err = fmt.Errorf("%w: %s: %w", ErrTampered, r.Src, err)
		}
		return f, fmt.Errorf("fetch %s: %w (nothing was left under %s)", r.Src, err, r.Out)
	}
	// Whatever age did not read (trailing bytes) still counts in the sha256.
	if _, err := io.Copy(io.Discard, br); err != nil {
		os.Remove(r.Out)
		return f, fmt.Errorf("fetch %s: %w (nothing was left under %s)", r.Src, err, r.Out)
	}
	f.Size, f.SHA256 = counted.n, hex.EncodeToString(raw.Sum(nil))
	if want != "" && f.SHA256 != want {
		os.Remove(r.Out)
		return f, fmt.Errorf("%w: %s has sha256 %.16s…, it was uploaded with %.16s…: it was changed or damaged where it is kept; do not restore from it, fetch an older snapshot (nothing was left under %s)",
			ErrTampered, r.Src, f.SHA256, want, r.Out)
	}
	v, err := snapshot.VerifyWith(ctx, r.Out, r.Verify)
	f.Verification = v
	if err != nil {
		return f, err
	}
	return f, nil
}

// openSource opens r.Src and returns the sha256 it must have ("" when unknown).
func openSource(ctx context.Context, r FetchRequest, f *Fetched) (io.ReadCloser, string, error) {
	if !IsURL(r.Src) {
		file, err := os.Open(r.Src)
		if err != nil {
			return nil, "", fmt.Errorf("fetch %s: %w; give an s3:// URL or the path of a snapshot", r.Src, err)
		}
		return file, "", nil
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.Src, Scheme), "/")
	latest := key == "" || strings.HasSuffix(key, "/")
	prefix := strings.Trim(key, "/")
	if !latest {
		prefix = strings.Trim(filepath.ToSlash(filepath.Dir(key)), "./")
	}
	t, err := ParseURL(Scheme + bucket + "/" + prefix)
	if err != nil {
		return nil, "", err
	}
	s, err := Open(r.Store, t)
	if err != nil {
		return nil, "", err
	}
	var obj Object
	if latest {
		objs, err := s.List(ctx, "")
		if err != nil {
			return nil, "", err
		}
		if len(objs) == 0 {
			return nil, "", fmt.Errorf("fetch %s: %w: no snapshot written by etcd-harden under %s", r.Src, ErrNotFound, t)
		}
		obj = objs[0]
	} else if obj, _, err = s.Stat(ctx, key); err != nil {
		return nil, "", fmt.Errorf("fetch %s: %w", r.Src, err)
	}
	f.Object, f.Src = &obj, obj.URL
	rc, err := s.Open(ctx, obj.Key)
	if err != nil {
		return nil, "", err
	}
	return rc, obj.Meta.SHA256, nil
}

// copyTo writes src into out through out.part, returning the size and hex sha256.
func copyTo(ctx context.Context, src io.Reader, out string) (n int64, sum string, err error) {
	part := out + ".part"
	_ = os.Remove(part)
	f, err := os.OpenFile(part, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, "", err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(part)
		}
	}()
	h := sha256.New()
	if n, err = io.CopyBuffer(io.MultiWriter(f, h), &ctxReader{ctx: ctx, r: src}, make([]byte, 1<<20)); err != nil {
		return 0, "", err
	}
	if err = f.Sync(); err != nil {
		return 0, "", err
	}
	if err = f.Close(); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), os.Rename(part, out)
}
