package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// PartSize is the size of one part of a multipart upload (10,000 parts: snapshots up to
// 156 GiB). No part is held in memory: each is read from the file twice, once to hash it
// and once to send it.
const PartSize = 16 << 20

// abortTimeout bounds the clean-up after a failed upload, which runs even when ctx ended.
const abortTimeout = 30 * time.Second

// Upload describes an object written by Put.
type Upload struct {
	URL  string `json:"url"`
	Key  string `json:"key"`
	Size int64  `json:"size"`
	Meta Meta   `json:"meta"`
	// Checksum is the store's own SHA-256 checksum (base64; for a multipart upload a
	// checksum of the parts' checksums), "" when the store does not keep one.
	Checksum  string        `json:"s3ChecksumSha256,omitempty"`
	VersionID string        `json:"versionId,omitempty"`
	Duration  time.Duration `json:"durationNs"`
	Speed     float64       `json:"bytesPerSecond"`
}

// ErrLeftIncomplete is wrapped by Put's error when the multipart upload of a failed upload
// could not be aborted (the store went away): Abort it later.
var ErrLeftIncomplete = errors.New("its multipart upload could not be aborted")

// Abort aborts the incomplete uploads of key, if any.
func (s *Store) Abort(ctx context.Context, key string) error {
	if err := s.cli.RemoveIncompleteUpload(ctx, s.target.Bucket, key); err != nil {
		return s.explain(err, "s3:AbortMultipartUpload", s.target.ObjectURL(key))
	}
	return nil
}

// ErrExists is wrapped by Put's error when an object already has the name.
var ErrExists = errors.New("an object already has that name")

// Put uploads the file at path as name under the prefix, with meta. It streams from the
// file: a file larger than PartSize goes up in parts read straight from it (putParts), so
// that the memory an upload takes does not grow with the part size or the snapshot's. Each
// part carries its sha256, which signs the request and is S3's own SHA-256 checksum of the
// part (where the store keeps one). The object appears under its name only when complete
// (a single PUT, or a multipart upload's completion); on any error or cancel the multipart
// upload is aborted, and the error says whether anything is left. An existing object of
// that name is never overwritten. progress, when not nil, gets the bytes sent so far.
func (s *Store) Put(ctx context.Context, name, path string, meta Meta, progress func(sent, total int64)) (*Upload, error) {
	key := s.target.Key(name)
	url := s.target.ObjectURL(key)
	if _, err := s.cli.StatObject(ctx, s.target.Bucket, key, minio.StatObjectOptions{}); err == nil {
		return nil, fmt.Errorf("%w: %s exists; choose another name (nothing was uploaded)", ErrExists, url)
	} else if e := s.explain(err, "s3:GetObject", url); !errors.Is(e, ErrNotFound) {
		return nil, e
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("upload %s: %w", path, err)
	}
	total := fi.Size()
	var sent atomic.Int64
	opts := minio.PutObjectOptions{
		UserMetadata: meta.userMetadata(),
		ContentType:  "application/octet-stream",
		PartSize:     PartSize,
		NumThreads:   1,
		Checksum:     minio.ChecksumSHA256,
		Progress:     &progressReader{sent: &sent, total: total, fn: progress},
	}
	start := time.Now()
	put := func(checksum bool) (minio.UploadInfo, error) {
		sent.Store(0)
		if total > PartSize {
			return s.putParts(ctx, key, f, total, opts, checksum, opts.Progress.(*progressReader))
		}
		if !checksum {
			opts.Checksum = 0
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return minio.UploadInfo{}, err
		}
		// onlyReader hides the file's ReadAt, which minio-go would read in parallel.
		return s.cli.PutObject(ctx, s.target.Bucket, key, onlyReader{f}, total, opts)
	}
	info, err := put(true)
	if err != nil && checksumUnsupported(err) {
		// A store that does not take S3's checksum headers: the sha256 stays in the
		// metadata, and the read-back compares it.
		info, err = put(false)
	}
	if err != nil {
		return nil, s.failedUpload(ctx, err, key, sent.Load())
	}
	d := time.Since(start)
	return &Upload{URL: url, Key: key, Size: info.Size, Meta: meta, Checksum: info.ChecksumSHA256,
		VersionID: info.VersionID, Duration: d, Speed: float64(info.Size) / max(d.Seconds(), 1e-9)}, nil
}

// failedUpload aborts what a failed upload left and says so.
func (s *Store) failedUpload(ctx context.Context, err error, key string, sent int64) error {
	url := s.target.ObjectURL(key)
	cause := s.explain(err, "s3:PutObject", url)
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	aerr := s.cli.RemoveIncompleteUpload(actx, s.target.Bucket, key)
	if aerr != nil {
		return fmt.Errorf("upload to %s stopped after %s: %w; nothing is under that name, but %w (%v): the next run aborts it, or run: aws s3api list-multipart-uploads --bucket %s --prefix %s",
			url, snapshot.HumanBytes(sent), cause, ErrLeftIncomplete, s.explain(aerr, "s3:AbortMultipartUpload", url), s.target.Bucket, key)
	}
	return fmt.Errorf("upload to %s stopped after %s: %w; nothing is under that name and the multipart upload was aborted", url, snapshot.HumanBytes(sent), cause)
}

func checksumUnsupported(err error) bool {
	r := minio.ToErrorResponse(err)
	return (r.Code == "NotImplemented" || r.Code == "InvalidArgument" || r.Code == "InvalidRequest") &&
		strings.Contains(strings.ToLower(r.Message), "checksum")
}

// CleanIncomplete aborts the multipart uploads of snapshots under the prefix that were
// started more than olderThan ago: what an upload killed with the node or the store left.
// known are keys whose uploads a run could not abort (some stores, MinIO among them, list
// incomplete uploads only by exact key). It returns the keys whose uploads it aborted.
func (s *Store) CleanIncomplete(ctx context.Context, olderThan time.Duration, known ...string) ([]string, error) {
	ups, err := s.incomplete(ctx, known)
	if err != nil {
		return nil, err
	}
	var aborted []string
	cutoff := time.Now().Add(-olderThan)
	for _, u := range ups {
		if u.Initiated.After(cutoff) || !isSnapshotKey(s.target, u.Key) {
			continue
		}
		if err := s.cli.RemoveIncompleteUpload(ctx, s.target.Bucket, u.Key); err != nil {
			return aborted, s.explain(err, "s3:AbortMultipartUpload", s.target.ObjectURL(u.Key))
		}
		aborted = append(aborted, u.Key)
	}
	return aborted, nil
}

// Incomplete lists the keys under the prefix with a multipart upload in progress, by
// prefix and by the exact known keys.
func (s *Store) Incomplete(ctx context.Context, known ...string) ([]string, error) {
	ups, err := s.incomplete(ctx, known)
	var keys []string
	for _, u := range ups {
		keys = append(keys, u.Key)
	}
	return keys, err
}

func (s *Store) incomplete(ctx context.Context, known []string) ([]minio.ObjectMultipartInfo, error) {
	seen := map[string]bool{}
	var out []minio.ObjectMultipartInfo
	for _, prefix := range append([]string{s.target.keyPrefix()}, known...) {
		for u := range s.cli.ListIncompleteUploads(ctx, s.target.Bucket, prefix, true) {
			if u.Err != nil {
				return out, s.explain(u.Err, "s3:ListBucketMultipartUploads", s.target.String())
			}
			if !seen[u.UploadID] {
				seen[u.UploadID] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}

// putParts is a multipart upload of f read straight from the file, one part after the
// other: a part is hashed in one pass over its section of the file, then sent from the
// file again with that sha256 (hex: the request's signed payload hash, which the store
// checks; base64: S3's checksum of the part when checksum is set). Nothing of PartSize is
// allocated. On error the upload is left for failedUpload to abort.
func (s *Store) putParts(ctx context.Context, key string, f *os.File, total int64, opts minio.PutObjectOptions, checksum bool, progress *progressReader) (info minio.UploadInfo, err error) {
	core := minio.Core{Client: s.cli}
	create := opts
	create.UserMetadata = maps.Clone(opts.UserMetadata)
	if checksum {
		if create.UserMetadata == nil {
			create.UserMetadata = map[string]string{}
		}
		create.UserMetadata["X-Amz-Checksum-Algorithm"] = minio.ChecksumSHA256.String()
	}
	id, err := core.NewMultipartUpload(ctx, s.target.Bucket, key, create)
	if err != nil {
		return minio.UploadInfo{}, err
	}
	defer func() {
		if err != nil && checksumUnsupported(err) {
			// Put tries again without the checksum: this upload is dropped now.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
			defer cancel()
			_ = core.AbortMultipartUpload(actx, s.target.Bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	for n, off := 1, int64(0); off < total; n, off = n+1, off+PartSize {
		size := min(PartSize, total-off)
		var sum []byte
		if sum, err = sectionSHA256(ctx, f, off, size); err != nil {
			return minio.UploadInfo{}, err
		}
		po := minio.PutObjectPartOptions{Sha256Hex: hex.EncodeToString(sum)}
		if checksum {
			po.CustomHeader = http.Header{"X-Amz-Checksum-Sha256": {base64.StdEncoding.EncodeToString(sum)}}
		}
		body := &countingSection{r: io.NewSectionReader(f, off, size), base: off, p: progress}
		var part minio.ObjectPart
		if part, err = core.PutObjectPart(ctx, s.target.Bucket, key, id, n, body, size, po); err != nil {
			return minio.UploadInfo{}, err
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: part.ETag, ChecksumSHA256: part.ChecksumSHA256})
	}
	info, err = core.CompleteMultipartUpload(ctx, s.target.Bucket, key, id, parts, minio.PutObjectOptions{})
	info.Size = total
	return info, err
}

// sectionSHA256 is the sha256 of size bytes of f from off, read in small pieces.
func sectionSHA256(ctx context.Context, f *os.File, off, size int64) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, size)); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// countingSection is a part's body: it reports the bytes sent so far of the whole upload
// to p, and seeks back with the part when minio-go retries it.
type countingSection struct {
	r    *io.SectionReader
	base int64
	p    *progressReader
}

func (c *countingSection) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	if n > 0 {
		pos, _ := c.r.Seek(0, io.SeekCurrent)
		c.p.report(c.base + pos)
	}
	return n, err
}

func (c *countingSection) Seek(off int64, whence int) (int64, error) { return c.r.Seek(off, whence) }

type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// progressReader is minio-go's progress hook: it is "read" as bytes are sent.
type progressReader struct {
	sent  *atomic.Int64
	total int64
	fn    func(sent, total int64)
	last  time.Time
}

func (p *progressReader) Read(b []byte) (int, error) {
	p.report(p.sent.Add(int64(len(b))))
	return len(b), nil
}

// report says that n bytes of the whole are sent, at most every 100 ms and at the end.
func (p *progressReader) report(n int64) {
	p.sent.Store(n)
	if p.fn != nil && (time.Since(p.last) > 100*time.Millisecond || n >= p.total) {
		p.last = time.Now()
		p.fn(n, p.total)
	}
}
