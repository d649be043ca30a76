package offsite

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/minio/minio-go/v7"
)

// Errors a door can tell apart with errors.Is.
var (
	// ErrUnreachable: the endpoint did not answer (down, wrong port, wrong host).
	ErrUnreachable = errors.New("the S3 endpoint cannot be reached")
	// ErrBadCredentials: the store does not accept the key ID or the secret key.
	ErrBadCredentials = errors.New("the S3 store refused the credentials")
	// ErrDenied: the credentials are valid but lack a permission.
	ErrDenied = errors.New("the S3 store denied the request")
	// ErrNoBucket: the bucket does not exist.
	ErrNoBucket = errors.New("the bucket does not exist")
	// ErrNotFound: the object does not exist.
	ErrNotFound = errors.New("no such object")
)

// explain turns a client error of action (s3:PutObject …) on what (a URL) into a sentence
// that says what to do, wrapping one of the errors above when it is one of them.
func (s *Store) explain(err error, action, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s on %s stopped: %w", action, what, err)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchBucket":
		return fmt.Errorf("%w: bucket %q at %s; create it (aws s3 mb s3://%s --endpoint-url %s, or mc mb ALIAS/%s) or fix --dest",
			ErrNoBucket, s.target.Bucket, s.endpoint, s.target.Bucket, s.endpoint, s.target.Bucket)
	case "NoSuchKey", "NoSuchObject":
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	case "InvalidAccessKeyId":
		return fmt.Errorf("%w: %s does not know the access key ID %s (from %s); check the key ID",
			ErrBadCredentials, s.endpoint, s.AccessKey, s.Source)
	case "SignatureDoesNotMatch":
		return fmt.Errorf("%w: the secret key does not match the access key ID %s (from %s); check the secret key",
			ErrBadCredentials, s.AccessKey, s.Source)
	case "ExpiredToken", "InvalidToken", "TokenRefreshRequired":
		return fmt.Errorf("%w: the session token (from %s) is expired or invalid; refresh it", ErrBadCredentials, s.Source)
	case "AccessDenied", "Forbidden", "AllAccessDisabled":
		return fmt.Errorf("%w: %s on %s with access key ID %s (from %s); grant s3:ListBucket, s3:PutObject, s3:GetObject, s3:DeleteObject (and s3:AbortMultipartUpload) on the prefix",
			ErrDenied, action, what, s.AccessKey, s.Source)
	}
	var op *net.OpError
	if errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: %s at %s: %v; check --s3-endpoint (or AWS_ENDPOINT_URL) and that the store runs",
			ErrUnreachable, action, s.endpoint, err)
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return fmt.Errorf("%w: %s at %s: %v; check the host in --s3-endpoint (or AWS_ENDPOINT_URL)", ErrUnreachable, action, s.endpoint, err)
	}
	if resp.Code != "" {
		return fmt.Errorf("%s on %s: %s (%s)", action, what, resp.Message, resp.Code)
	}
	return fmt.Errorf("%s on %s at %s: %w", action, what, s.endpoint, err)
}
