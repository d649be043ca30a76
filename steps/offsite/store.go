package offsite

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// DefaultEndpoint is AWS S3's, used when neither --s3-endpoint nor AWS_ENDPOINT_URL is set.
const DefaultEndpoint = "https://s3.amazonaws.com"

// Config says how to reach the store. The zero value finds everything the way the AWS
// tools do.
type Config struct {
	// Endpoint is the store's URL (http://host:port or https://host); "" means
	// AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, then DefaultEndpoint. A bare host is https.
	Endpoint string
	// Region is the bucket's region; "" means AWS_REGION, then AWS_DEFAULT_REGION, then
	// whatever the store says.
	Region string
	// Creds, when not nil, are used as they are (tests). Otherwise the AWS chain:
	// AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, then AWS_PROFILE in
	// ~/.aws/credentials (or AWS_SHARED_CREDENTIALS_FILE), then the instance's IAM role.
	Creds *credentials.Credentials
	// CredsSource names where Creds came from, for the report ("" with Creds: "given").
	CredsSource string
	// NoInstanceRole leaves the IAM role out of the chain (tests: it asks a link-local
	// metadata address).
	NoInstanceRole bool
	// MaxRetries of one request (3 when 0): a store that is down fails in seconds.
	MaxRetries int
}

// Store is an opened destination: a client, the target, and where the credentials came from.
type Store struct {
	cli      *minio.Client
	target   Target
	endpoint string
	// Source says where the credentials came from, and AccessKey is their key ID shown
	// masked (…ABCD). The secret key is never kept here.
	Source, AccessKey string
}

// Endpoint is the store's URL.
func (s *Store) Endpoint() string { return s.endpoint }

// Target is the bucket and prefix.
func (s *Store) Target() Target { return s.target }

// ErrNoCredentials is wrapped by Open's error when the chain found none.
var ErrNoCredentials = errors.New("no S3 credentials found")

// Open makes a client for t. It finds the credentials (without printing them) but sends
// no request: CheckDest is the first to talk to the store.
func Open(cfg Config, t Target) (*Store, error) {
	endpoint := firstNonEmpty(cfg.Endpoint, os.Getenv("AWS_ENDPOINT_URL_S3"), os.Getenv("AWS_ENDPOINT_URL"), DefaultEndpoint)
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	creds, source, key, err := findCreds(cfg)
	if err != nil {
		return nil, err
	}
	retries := cfg.MaxRetries
	if retries <= 0 {
		retries = 3
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, err
	}
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 2 * time.Minute
	cli, err := minio.New(u.Host, &minio.Options{
		Creds:           creds,
		Secure:          u.Scheme == "https",
		Region:          firstNonEmpty(cfg.Region, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		Transport:       tr,
		MaxRetries:      retries,
		TrailingHeaders: true,
	})
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %s: %w; check --s3-endpoint or AWS_ENDPOINT_URL", endpoint, err)
	}
	return &Store{cli: cli, target: t, endpoint: u.Scheme + "://" + u.Host, Source: source, AccessKey: key}, nil
}

func parseEndpoint(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("S3 endpoint %q: give a URL such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9000 (no path; the bucket is in --dest)", s)
	}
	return u, nil
}

// source is one link of the AWS credentials chain.
type source struct {
	name string
	p    credentials.Provider
}

func chain(noInstanceRole bool) []source {
	profile := firstNonEmpty(os.Getenv("AWS_PROFILE"), "default")
	file := firstNonEmpty(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), "~/.aws/credentials")
	links := []source{
		{"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", &credentials.EnvAWS{}},
		{fmt.Sprintf("profile %q in %s", profile, file), &credentials.FileAWSCredentials{}},
	}
	if !noInstanceRole {
		links = append(links, source{"the instance's IAM role", &credentials.IAM{Client: &http.Client{Timeout: 3 * time.Second}}})
	}
	return links
}

func findCreds(cfg Config) (*credentials.Credentials, string, string, error) {
	if cfg.Creds != nil {
		v, err := cfg.Creds.GetWithContext(nil)
		if err != nil {
			return nil, "", "", fmt.Errorf("S3 credentials: %w", err)
		}
		return cfg.Creds, firstNonEmpty(cfg.CredsSource, "given"), mask(v.AccessKeyID), nil
	}
	var tried []string
	for _, s := range chain(cfg.NoInstanceRole) {
		v, err := s.p.RetrieveWithCredContext(&credentials.CredContext{Client: &http.Client{Timeout: 3 * time.Second}})
		if err == nil && v.AccessKeyID != "" && v.SecretAccessKey != "" {
			return credentials.New(s.p), s.name, mask(v.AccessKeyID), nil
		}
		tried = append(tried, s.name)
	}
	return nil, "", "", fmt.Errorf("%w (tried %s): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with ~/.aws/credentials; a schedule reads them from its environment file",
		ErrNoCredentials, strings.Join(tried, ", "))
}

// mask shows the last four characters of an access key ID: enough to tell keys apart.
func mask(id string) string {
	if len(id) <= 4 {
		return "…"
	}
	return "…" + id[len(id)-4:]
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
