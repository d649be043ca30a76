package offsite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// PartSize is the size of one part of a multipart upload, and so the one buffer an upload
// holds whatever the snapshot's size (10,000 parts: snapshots up to 156 GiB).
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

// Put uploads the file at path as name under the prefix, with meta. It streams: one part
// of PartSize in memory at a time. The object appears under its name only when complete
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
	// onlyReader hides the file's ReadAt: minio-go then fills one part buffer at a time
	// instead of reading parts in parallel.
	info, err := s.cli.PutObject(ctx, s.target.Bucket, key, onlyReader{f}, total, opts)
	if err != nil && checksumUnsupported(err) {
		// A store that does not take S3's checksum headers: the sha256 stays in the
		// metadata, and the read-back compares it.
		if _, serr := f.Seek(0, io.SeekStart); serr == nil {
			sent.Store(0)
			opts.Checksum = 0
			info, err = s.cli.PutObject(ctx, s.target.Bucket, key, onlyReader{f}, total, opts)
		}
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
	n := p.sent.Add(int64(len(b)))
	if p.fn != nil && (time.Since(p.last) > 100*time.Millisecond || n >= p.total) {
		p.last = time.Now()
		p.fn(n, p.total)
	}
	return len(b), nil
}
