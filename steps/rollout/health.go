package rollout

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// ErrUnhealthy is wrapped by Wait's error when etcd did not answer in time.
var ErrUnhealthy = errors.New("etcd did not answer")

// ErrNotRestarted is the check's error while the etcd that answers is still the
// process that ran before the change (the kubelet has not restarted it yet).
var ErrNotRestarted = errors.New("etcd has not restarted yet")

// tryTimeout bounds one try of a check.
const tryTimeout = 3 * time.Second

// Health is what one successful check saw.
type Health struct {
	// MemberID is the answering member; Members is the member count of the cluster.
	MemberID uint64
	Members  int
	// Version is the server's version.
	Version string
	// Started is when the etcd process started, read from its metrics; zero when the
	// metrics could not be read.
	Started time.Time
}

// Check asks the etcd at t once whether it is healthy: a TCP connection (and the TLS
// handshake over https, so that a refused certificate is named), the member list,
// the endpoint's status (no alarms) and a linearizable Get of the "health" key, as
// etcd's own /health does.
func Check(ctx context.Context, t Target) (Health, error) {
	ctx, cancel := context.WithTimeout(ctx, tryTimeout)
	defer cancel()
	conn := t.Conn()
	cfg, err := conn.ClientConfig()
	if err != nil {
		return Health{}, fmt.Errorf("client TLS from %s, %s and %s: %w", t.CertFile, t.KeyFile, t.CAFile, err)
	}
	// The first dial is the project's connection check: it names a refused connection
	// or a refused certificate instead of letting the client retry until tryTimeout.
	if err := conn.Check(ctx); err != nil {
		return Health{}, err
	}
	tlsCfg := cfg.TLS
	c, err := clientv3.New(clientv3.Config{
		Endpoints: []string{t.Endpoint}, TLS: tlsCfg, DialTimeout: tryTimeout,
		Logger: zap.NewNop(), Context: ctx,
	})
	if err != nil {
		return Health{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	members, err := c.MemberList(ctx)
	if err != nil {
		return Health{}, fmt.Errorf("member list: %w", err)
	}
	st, err := c.Status(ctx, t.Endpoint)
	if err != nil {
		return Health{}, fmt.Errorf("status: %w", err)
	}
	if len(st.Errors) > 0 {
		return Health{}, fmt.Errorf("status reports %s", strings.Join(st.Errors, "; "))
	}
	if _, err := c.Get(ctx, "health"); err != nil {
		return Health{}, fmt.Errorf("linearizable read: %w", err)
	}
	h := Health{MemberID: st.Header.GetMemberId(), Members: len(members.Members), Version: st.Version}
	h.Started, _ = startTime(ctx, t.MetricsURL, tlsCfg)
	return h, nil
}

// startTime reads process_start_time_seconds from etcd's /metrics.
func startTime(ctx context.Context, metricsURL string, cfg *tls.Config) (time.Time, error) {
	if metricsURL == "" {
		return time.Time{}, errors.New("no metrics URL")
	}
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(metricsURL, "/")+"/metrics", nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_start_time_seconds "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				return time.Time{}, err
			}
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
		}
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, errors.New("no process_start_time_seconds in " + req.URL.String())
}

// WaitOptions tune Wait.
type WaitOptions struct {
	// Timeout is how long etcd may take to answer (DefaultTimeout when zero).
	Timeout time.Duration
	// Interval is the pause between tries (DefaultInterval when zero).
	Interval time.Duration
	// Replaces is the start time of the etcd process that must be gone: an etcd that
	// answers with this start time has not been restarted yet. Zero skips the check.
	Replaces time.Time
	// Progress is called after each failed try with the time waited and the error.
	Progress func(elapsed time.Duration, err error)
}

// Defaults of WaitOptions and Options.
const (
	DefaultTimeout  = 2 * time.Minute
	DefaultInterval = 500 * time.Millisecond
)

// Wait checks the etcd at t every interval until a check passes, the timeout passes
// (an error wrapping ErrUnhealthy with the last problem seen) or ctx ends.
func Wait(ctx context.Context, t Target, o WaitOptions) (Health, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	start := time.Now()
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	for {
		h, err := Check(ctx, t)
		switch {
		case err != nil || o.Replaces.IsZero():
		case h.Started.Equal(o.Replaces):
			err = fmt.Errorf("%w: the etcd answering on %s started at %s, before the change", ErrNotRestarted, t.Endpoint, o.Replaces.Format(time.TimeOnly))
		case h.Started.IsZero() && t.MetricsURL != "":
			// The metrics did not answer this time (etcd busy restarting): until they
			// do, nothing shows that the etcd answering is the new one.
			err = fmt.Errorf("%w: cannot tell yet whether the etcd answering on %s is the restarted one (%s/metrics did not answer)", ErrNotRestarted, t.Endpoint, t.MetricsURL)
		}
		if err == nil {
			return h, nil
		}
		if o.Progress != nil {
			o.Progress(time.Since(start), err)
		}
		select {
		case <-ctx.Done():
			return Health{}, fmt.Errorf("%w on %s: stopped after %s (%w); last problem: %v", ErrUnhealthy, t, time.Since(start).Round(time.Second), ctx.Err(), err)
		case <-deadline.C:
			return Health{}, fmt.Errorf("%w on %s within %s; last problem: %w", ErrUnhealthy, t, o.Timeout, err)
		case <-time.After(o.Interval):
		}
	}
}
