package offsite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/lifecycle"

	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// Names of the S3 destination checks, in the order CheckDest runs them.
const (
	CheckBucket     = "bucket"
	CheckProbe      = "write, read, delete"
	CheckVersioning = "versioning"
	CheckLock       = "object lock"
	CheckLifecycle  = "lifecycle"
)

// probePrefix names the probe objects; nothing else ever has it.
const probePrefix = ".etcd-harden-probe-"

// CheckDest checks the destination as the folder checks do for a folder: the bucket
// exists, the credentials can write, read back and delete a probe object under the prefix,
// and it reports versioning, object lock and a lifecycle rule that applies to the prefix.
// A failed bucket or probe check fails the destination; the others inform.
func (s *Store) CheckDest(ctx context.Context) []snapshot.Check {
	bucket := s.checkBucket(ctx)
	if bucket.Status == snapshot.StatusFail && !errors.Is(bucket.cause, ErrDenied) {
		return []snapshot.Check{bucket.Check}
	}
	probe := s.checkProbe(ctx)
	if bucket.Status == snapshot.StatusFail {
		// HEAD answers carry no error code: the probe names the real cause (bad keys, or
		// a missing permission).
		if probe.Status == snapshot.StatusFail {
			return []snapshot.Check{probe}
		}
		bucket.Status, bucket.Message, bucket.Fix = snapshot.StatusWarn,
			fmt.Sprintf("cannot ask whether bucket %q exists (s3:ListBucket denied), but a probe object was written in it", s.target.Bucket),
			"grant s3:ListBucket on the bucket so that --keep can list the snapshots"
	}
	checks := []snapshot.Check{bucket.Check, probe}
	if probe.Status == snapshot.StatusFail {
		return checks
	}
	return append(checks, s.checkVersioning(ctx), s.checkLock(ctx), s.checkLifecycle(ctx))
}

type checkWithCause struct {
	snapshot.Check
	cause error
}

func (s *Store) checkBucket(ctx context.Context) checkWithCause {
	c := checkWithCause{Check: snapshot.Check{Name: CheckBucket}}
	ok, err := s.cli.BucketExists(ctx, s.target.Bucket)
	if err == nil && !ok {
		err = minio.ErrorResponse{Code: "NoSuchBucket", BucketName: s.target.Bucket}
	}
	if err != nil {
		c.cause = s.explain(err, "s3:ListBucket", Scheme+s.target.Bucket)
		c.Status, c.Message = snapshot.StatusFail, c.cause.Error()
		c.Fix = fixFor(c.cause, s)
		return c
	}
	c.Status = snapshot.StatusPass
	c.Message = fmt.Sprintf("bucket %q exists at %s (credentials: %s, key ID %s)", s.target.Bucket, s.endpoint, s.Source, s.AccessKey)
	return c
}

// fixFor is the one-line fix of an explained error.
func fixFor(err error, s *Store) string {
	switch {
	case errors.Is(err, ErrNoBucket):
		return fmt.Sprintf("create it: aws s3 mb s3://%s --endpoint-url %s (or mc mb ALIAS/%s)", s.target.Bucket, s.endpoint, s.target.Bucket)
	case errors.Is(err, ErrUnreachable):
		return "check --s3-endpoint (or AWS_ENDPOINT_URL), the network, and that the store runs"
	case errors.Is(err, ErrBadCredentials):
		return "fix AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or the AWS_PROFILE entry) for this store"
	case errors.Is(err, ErrDenied):
		return "grant these credentials s3:ListBucket, s3:PutObject, s3:GetObject, s3:DeleteObject and s3:AbortMultipartUpload on " + s.target.String()
	}
	return "fix what the message names, then test again"
}

func (s *Store) checkProbe(ctx context.Context) snapshot.Check {
	c := snapshot.Check{Name: CheckProbe}
	var id [8]byte
	_, _ = rand.Read(id[:])
	key := s.target.Key(probePrefix + hex.EncodeToString(id[:]))
	where := s.target.ObjectURL(key)
	body := []byte("etcd-harden probe " + hex.EncodeToString(id[:]) + "\n")
	failed := func(err error, action string) snapshot.Check {
		e := s.explain(err, action, where)
		c.Status, c.Message, c.Fix = snapshot.StatusFail, e.Error(), fixFor(e, s)
		return c
	}
	if _, err := s.cli.PutObject(ctx, s.target.Bucket, key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "text/plain", DisableMultipart: true}); err != nil {
		return failed(err, "s3:PutObject")
	}
	obj, err := s.cli.GetObject(ctx, s.target.Bucket, key, minio.GetObjectOptions{})
	var got []byte
	if err == nil {
		got, err = io.ReadAll(io.LimitReader(obj, 1<<10))
		obj.Close()
	}
	rerr := s.cli.RemoveObject(ctx, s.target.Bucket, key, minio.RemoveObjectOptions{})
	switch {
	case err != nil:
		c = failed(err, "s3:GetObject")
		if rerr != nil {
			c.Message += fmt.Sprintf("; the probe %s is left, remove it by hand", where)
		}
		return c
	case !bytes.Equal(got, body):
		c.Status, c.Message = snapshot.StatusFail, fmt.Sprintf("read back other bytes than written for %s (%d bytes, want %d)", where, len(got), len(body))
		c.Fix = "check what sits between this node and the store (a proxy, a gateway)"
		return c
	case rerr != nil:
		c = failed(rerr, "s3:DeleteObject")
		c.Message += fmt.Sprintf("; the probe %s is left, remove it by hand (--keep needs delete too)", where)
		return c
	}
	c.Status, c.Message = snapshot.StatusPass, fmt.Sprintf("wrote, read back and deleted a probe object under %s", s.target)
	return c
}

func (s *Store) checkVersioning(ctx context.Context) snapshot.Check {
	c := snapshot.Check{Name: CheckVersioning}
	v, err := s.cli.GetBucketVersioning(ctx, s.target.Bucket)
	switch {
	case err != nil:
		c.Status, c.Message = snapshot.StatusWarn, "cannot read the bucket's versioning: "+s.explain(err, "s3:GetBucketVersioning", Scheme+s.target.Bucket).Error()
	case v.Enabled():
		c.Status, c.Message = snapshot.StatusPass, "versioning is on: an overwritten or deleted snapshot stays recoverable (--keep's deletions leave non-current versions; expire them with a lifecycle rule)"
	default:
		c.Status, c.Message = snapshot.StatusWarn, "versioning is off: a snapshot deleted here, by mistake or by an attacker with these keys, is gone"
		c.Fix = fmt.Sprintf("aws s3api put-bucket-versioning --bucket %s --versioning-configuration Status=Enabled (or use object lock)", s.target.Bucket)
	}
	return c
}

func (s *Store) checkLock(ctx context.Context) snapshot.Check {
	c := snapshot.Check{Name: CheckLock}
	enabled, mode, validity, unit, err := s.cli.GetObjectLockConfig(ctx, s.target.Bucket)
	switch {
	case err != nil && isNotConfigured(err):
		c.Status, c.Message = snapshot.StatusPass, "object lock is not configured on the bucket"
	case err != nil:
		c.Status, c.Message = snapshot.StatusWarn, "cannot read the bucket's object lock: "+s.explain(err, "s3:GetBucketObjectLockConfiguration", Scheme+s.target.Bucket).Error()
	case enabled != "Enabled":
		c.Status, c.Message = snapshot.StatusPass, "object lock is not enabled on the bucket"
	case mode != nil && validity != nil && unit != nil:
		c.Status = snapshot.StatusPass
		c.Message = fmt.Sprintf("object lock is on: new snapshots are kept %d %s in %s mode, even from these keys (--keep cannot delete them sooner)",
			*validity, strings.ToLower(unit.String()), *mode)
	default:
		c.Status, c.Message = snapshot.StatusPass, "object lock is enabled, with no default retention"
	}
	return c
}

func (s *Store) checkLifecycle(ctx context.Context) snapshot.Check {
	c := snapshot.Check{Name: CheckLifecycle}
	cfg, err := s.cli.GetBucketLifecycle(ctx, s.target.Bucket)
	switch {
	case err != nil && isNotConfigured(err):
		c.Status, c.Message = snapshot.StatusPass, "no lifecycle rule on the bucket: --keep alone prunes old snapshots"
		return c
	case err != nil:
		c.Status, c.Message = snapshot.StatusWarn, "cannot read the bucket's lifecycle: "+s.explain(err, "s3:GetLifecycleConfiguration", Scheme+s.target.Bucket).Error()
		return c
	}
	var said []string
	for _, r := range cfg.Rules {
		if r.Status != "Enabled" || !ruleApplies(r, s.target.keyPrefix()) {
			continue
		}
		said = append(said, describeRule(r))
	}
	if len(said) == 0 {
		c.Status, c.Message = snapshot.StatusPass, "no lifecycle rule applies to "+s.target.String()
		return c
	}
	c.Status, c.Message = snapshot.StatusPass, "lifecycle: "+strings.Join(said, "; ")
	return c
}

func ruleApplies(r lifecycle.Rule, keyPrefix string) bool {
	p := r.Prefix
	if r.RuleFilter.Prefix != "" {
		p = r.RuleFilter.Prefix
	}
	if r.RuleFilter.And.Prefix != "" {
		p = r.RuleFilter.And.Prefix
	}
	return strings.HasPrefix(keyPrefix, p) || strings.HasPrefix(p, keyPrefix)
}

func describeRule(r lifecycle.Rule) string {
	var parts []string
	if d := r.Expiration.Days; d > 0 {
		parts = append(parts, fmt.Sprintf("expires objects after %d days", d))
	}
	if d := r.NoncurrentVersionExpiration.NoncurrentDays; d > 0 {
		parts = append(parts, fmt.Sprintf("expires non-current versions after %d days", d))
	}
	if d := r.AbortIncompleteMultipartUpload.DaysAfterInitiation; d > 0 {
		parts = append(parts, fmt.Sprintf("aborts incomplete uploads after %d days", d))
	}
	if r.Transition.StorageClass != "" {
		parts = append(parts, "moves objects to "+r.Transition.StorageClass)
	}
	if len(parts) == 0 {
		parts = append(parts, "has no expiration")
	}
	name := r.ID
	if name == "" {
		name = "(no id)"
	}
	return fmt.Sprintf("rule %s %s", name, strings.Join(parts, ", "))
}

// isNotConfigured reports a "this bucket has none" answer of a configuration read.
func isNotConfigured(err error) bool {
	switch minio.ToErrorResponse(err).Code {
	case "ObjectLockConfigurationNotFoundError", "NoSuchLifecycleConfiguration", "NoSuchObjectLockConfiguration":
		return true
	}
	return false
}
