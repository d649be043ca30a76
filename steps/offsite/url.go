// Package offsite ships snapshots to an S3-compatible store (AWS S3, MinIO, Ceph RGW,
// Cloudflare R2, GCS's XML API) and brings them back: the destination checks, a streamed
// multipart upload with bounded memory that leaves nothing under the final name when it is
// interrupted, the read-back, the pruning of this tool's own objects, and the fetch. The
// client is github.com/minio/minio-go/v7. It returns data and reports progress through
// callbacks; it never prints, and it never shows a secret key.
package offsite

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"

	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Scheme starts a destination URL: s3://BUCKET/PREFIX.
const Scheme = "s3://"

// IsURL reports whether dest names an S3 destination rather than a folder.
func IsURL(dest string) bool { return strings.HasPrefix(dest, Scheme) }

// Target is a bucket and a prefix (a "folder" in it, "" for the top).
type Target struct {
	Bucket string `json:"bucket"`
	Prefix string `json:"prefix"`
}

// ErrBadURL is wrapped by ParseURL's error.
var ErrBadURL = errors.New("not an s3://BUCKET/PREFIX URL")

// ParseURL reads s3://BUCKET/PREFIX; the prefix is cleaned of leading and trailing
// slashes ("" is the bucket's top).
func ParseURL(s string) (Target, error) {
	if !IsURL(s) {
		return Target{}, fmt.Errorf("%q: %w", s, ErrBadURL)
	}
	rest := strings.TrimPrefix(s, Scheme)
	bucket, prefix, _ := strings.Cut(rest, "/")
	if err := s3utils.CheckValidBucketNameStrict(bucket); err != nil {
		return Target{}, fmt.Errorf("%q: %w: bucket %q: %v", s, ErrBadURL, bucket, err)
	}
	if u, err := url.Parse("x://h/" + prefix); err != nil || u.RawQuery != "" || u.Fragment != "" {
		return Target{}, fmt.Errorf("%q: %w: the prefix must be a plain path (no ? or #)", s, ErrBadURL)
	}
	prefix = strings.Trim(prefix, "/")
	if prefix != "" && path.Clean(prefix) != prefix || strings.Contains(prefix, "..") {
		return Target{}, fmt.Errorf("%q: %w: the prefix %q is not a clean path", s, ErrBadURL, prefix)
	}
	return Target{Bucket: bucket, Prefix: prefix}, nil
}

// Key is the object key of name under the prefix.
func (t Target) Key(name string) string {
	if t.Prefix == "" {
		return name
	}
	return t.Prefix + "/" + name
}

// String is the target as a URL, s3://BUCKET/PREFIX.
func (t Target) String() string {
	if t.Prefix == "" {
		return Scheme + t.Bucket
	}
	return Scheme + t.Bucket + "/" + t.Prefix
}

// ObjectURL is the URL of the object key.
func (t Target) ObjectURL(key string) string { return Scheme + t.Bucket + "/" + key }

// keyPrefix is what every key under the prefix starts with.
func (t Target) keyPrefix() string {
	if t.Prefix == "" {
		return ""
	}
	return t.Prefix + "/"
}
