package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/etcd-harden/etcd-harden/steps/seal"
)

// Stat returns an object's size and metadata, whether or not this tool wrote it.
func (s *Store) Stat(ctx context.Context, key string) (Object, bool, error) {
	st, err := s.cli.StatObject(ctx, s.target.Bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return Object{}, false, s.explain(err, "s3:GetObject", s.target.ObjectURL(key))
	}
	m, ours := readMeta(st.UserMetadata)
	return Object{Key: key, URL: s.target.ObjectURL(key), Size: st.Size, Modified: st.LastModified, Meta: m}, ours, nil
}

// Open streams an object's bytes.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	obj, err := s.cli.GetObject(ctx, s.target.Bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.explain(err, "s3:GetObject", s.target.ObjectURL(key))
	}
	return &explainedReader{obj: obj, s: s, url: s.target.ObjectURL(key)}, nil
}

type explainedReader struct {
	obj *minio.Object
	s   *Store
	url string
}

func (r *explainedReader) Read(p []byte) (int, error) {
	n, err := r.obj.Read(p)
	if err != nil && err != io.EOF {
		err = r.s.explain(err, "s3:GetObject", r.url)
	}
	return n, err
}

func (r *explainedReader) Close() error { return r.obj.Close() }

// ReadBack is the proof that an uploaded object is readable from where it landed.
type ReadBack struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Decrypted is true when the read-back was also opened with an identity; PlainSHA256
	// is then the sha256 of what came out.
	Decrypted   bool          `json:"decrypted"`
	PlainSHA256 string        `json:"plainSha256,omitempty"`
	Duration    time.Duration `json:"durationNs"`
}

// ReadBack downloads the object in one pass, hashing it and, with ids, decrypting it and
// hashing the plaintext; nothing is written to disk. It fails when the size or a sha256
// differs from what was sent.
func (s *Store) ReadBack(ctx context.Context, up *Upload, ids *seal.Identities) (*ReadBack, error) {
	start := time.Now()
	rc, err := s.Open(ctx, up.Key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	sealedHash := sha256.New()
	counted := &countingReader{r: rc}
	tee := io.TeeReader(counted, sealedHash)
	rb := &ReadBack{}
	if ids != nil && up.Meta.Sealed != "" {
		plain, err := ids.Open(tee)
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", up.URL, err)
		}
		plainHash := sha256.New()
		if _, err := io.CopyBuffer(plainHash, plain, make([]byte, 1<<20)); err != nil {
			return nil, fmt.Errorf("read back %s: %w", up.URL, err)
		}
		rb.Decrypted, rb.PlainSHA256 = true, hex.EncodeToString(plainHash.Sum(nil))
	}
	if _, err := io.CopyBuffer(io.Discard, tee, make([]byte, 1<<20)); err != nil {
		return nil, fmt.Errorf("read back %s: %w", up.URL, err)
	}
	rb.Size, rb.SHA256, rb.Duration = counted.n, hex.EncodeToString(sealedHash.Sum(nil)), time.Since(start)
	switch {
	case rb.Size != up.Size:
		return rb, fmt.Errorf("read back %s: %d bytes, %d were sent; the store did not keep the whole snapshot", up.URL, rb.Size, up.Size)
	case rb.SHA256 != up.Meta.SHA256:
		return rb, fmt.Errorf("read back %s: sha256 %.16s…, %.16s… was sent; the store gave back other bytes", up.URL, rb.SHA256, up.Meta.SHA256)
	case rb.Decrypted && rb.PlainSHA256 != up.Meta.PlainSHA256:
		return rb, fmt.Errorf("read back %s: decrypted to sha256 %.16s…, the verified snapshot's is %.16s…", up.URL, rb.PlainSHA256, up.Meta.PlainSHA256)
	}
	return rb, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
