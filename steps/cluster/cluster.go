// Package cluster reads the facts of an etcd cluster that matter to hardening it one
// member at a time: from the member list, which members have https peer URLs and which
// serve clients over https (and still over http); from each member itself, whether it
// answers, its leader and raft index, and whether it refuses a client or a peer that has
// no certificate. Phase says how far each member is on the way to mutual TLS; Gate
// waits until the whole cluster is healthy. Nothing here writes a file.
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Access is how to dial members: the endpoints to ask for the member list first, and
// the TLS client (CA and client pair) for https URLs; TLS nil dials http URLs only.
type Access struct {
	Endpoints []string
	TLS       *tls.Config
}

// Member is one member as the cluster and the member itself show it.
type Member struct {
	ID         uint64   `json:"id"`
	Name       string   `json:"name"` // empty while the member was added but never started
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
	// PeerTLS: every peer URL in the member list is https.
	PeerTLS bool `json:"peerTLS"`
	// ClientTLS: the member advertises an https client URL; ClientHTTP: an http one.
	ClientTLS  bool `json:"clientTLS"`
	ClientHTTP bool `json:"clientHTTP"`
	// ClientCertRequired: its https client URL refuses a client with no certificate.
	// PeerCertRequired: its https peer URL refuses a peer with no certificate.
	ClientCertRequired bool `json:"clientCertRequired"`
	PeerCertRequired   bool `json:"peerCertRequired"`
	// Up: the member answered its status; then Leader, RaftIndex and AppliedIndex are
	// what it said. Err says why it did not answer.
	Up           bool   `json:"up"`
	Leader       uint64 `json:"leader,omitempty"`
	RaftIndex    uint64 `json:"raftIndex,omitempty"`
	AppliedIndex uint64 `json:"appliedIndex,omitempty"`
	Version      string `json:"version,omitempty"`
	Err          string `json:"error,omitempty"`
}

// Phase is how far a member is on the way from plain http to mutual TLS.
type Phase int

// The phases, in order. Each is a restart of the member with new flags.
const (
	// PhaseHTTP: clients and peers over plain http only.
	PhaseHTTP Phase = 0
	// PhaseClientTLS: the member has its certificates and serves clients over https
	// beside http; peers still speak http.
	PhaseClientTLS Phase = 1
	// PhasePeerTLS: its peer URL is https in the member list (and it listens so).
	PhasePeerTLS Phase = 2
	// PhaseMutualTLS: no http client URL, client and peer certificates required.
	PhaseMutualTLS Phase = 3
)

// String names the phase for messages.
func (p Phase) String() string {
	switch p {
	case PhaseHTTP:
		return "0 (http)"
	case PhaseClientTLS:
		return "1 (https for clients beside http)"
	case PhasePeerTLS:
		return "2 (https peers)"
	case PhaseMutualTLS:
		return "3 (mutual TLS only)"
	}
	return fmt.Sprintf("%d", int(p))
}

// Phase returns how far m is, from what the member list and the member show.
func (m Member) Phase() Phase {
	switch {
	case m.PeerTLS && m.ClientTLS && !m.ClientHTTP && m.ClientCertRequired && m.PeerCertRequired:
		return PhaseMutualTLS
	case m.PeerTLS:
		return PhasePeerTLS
	case m.ClientTLS:
		return PhaseClientTLS
	}
	return PhaseHTTP
}

// Facts are the cluster as observed once.
type Facts struct {
	Members []Member `json:"members"`
	// Observed is when the facts were read.
	Observed time.Time `json:"observed"`
}

// Member returns the member named name, nil when there is none.
func (f *Facts) Member(name string) *Member {
	for i := range f.Members {
		if f.Members[i].Name == name {
			return &f.Members[i]
		}
	}
	return nil
}

// MinPhase returns the phase of the member furthest behind.
func (f *Facts) MinPhase() Phase {
	p := PhaseMutualTLS
	for _, m := range f.Members {
		p = min(p, m.Phase())
	}
	return p
}

// HasCA returns a member that already serves TLS while the cluster is not yet all on
// mutual TLS, nil when none does: the cluster then has its etcd CA, and a node planned
// without the first node's bundle would make a second one.
func (f *Facts) HasCA() *Member {
	if f.MinPhase() >= PhaseMutualTLS {
		return nil
	}
	for i := range f.Members {
		if f.Members[i].Phase() > PhaseHTTP {
			return &f.Members[i]
		}
	}
	return nil
}

// Behind returns the names of the members whose phase is below p, in member-list order.
func (f *Facts) Behind(p Phase) []string {
	var out []string
	for _, m := range f.Members {
		if m.Phase() < p {
			out = append(out, nameOr(m))
		}
	}
	return out
}

// Problem returns why the cluster is not healthy now, "" when it is: every member
// started and answering, all following one leader.
func (f *Facts) Problem() string {
	var problems []string
	leaders := map[uint64]bool{}
	for _, m := range f.Members {
		switch {
		case m.Name == "":
			problems = append(problems, fmt.Sprintf("member %x was added but has not started", m.ID))
		case !m.Up:
			problems = append(problems, fmt.Sprintf("%s does not answer (%s)", m.Name, m.Err))
		case m.Leader == 0:
			problems = append(problems, fmt.Sprintf("%s has no leader", m.Name))
		default:
			leaders[m.Leader] = true
		}
	}
	if len(leaders) > 1 {
		problems = append(problems, fmt.Sprintf("members disagree on the leader (%d leaders seen)", len(leaders)))
	}
	return strings.Join(problems, "; ")
}

// Down returns the names of the members that do not answer.
func (f *Facts) Down() []string {
	var out []string
	for _, m := range f.Members {
		if !m.Up {
			out = append(out, nameOr(m))
		}
	}
	return out
}

func nameOr(m Member) string {
	if m.Name != "" {
		return m.Name
	}
	return fmt.Sprintf("%x", m.ID)
}

// tryTimeout bounds each question to one member.
const tryTimeout = 2 * time.Second

// Observe reads the member list through a.Endpoints (the first that answers), then asks
// every member for its status over its own client URL (https with a.TLS when it has
// one and a.TLS is set, else http) and probes its https client and peer URLs with no
// certificate. A member that does not answer is in the facts with Up false.
func Observe(ctx context.Context, a Access) (*Facts, error) {
	list, err := memberList(ctx, a)
	if err != nil {
		return nil, err
	}
	f := &Facts{Observed: time.Now()}
	for _, pm := range list.Members {
		m := Member{ID: pm.ID, Name: pm.Name, PeerURLs: pm.PeerURLs, ClientURLs: pm.ClientURLs}
		m.PeerTLS = len(m.PeerURLs) > 0 && all(m.PeerURLs, isHTTPS)
		m.ClientTLS = slices.ContainsFunc(m.ClientURLs, isHTTPS)
		m.ClientHTTP = slices.ContainsFunc(m.ClientURLs, func(u string) bool { return !isHTTPS(u) })
		f.Members = append(f.Members, m)
	}
	slices.SortFunc(f.Members, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	done := make(chan struct{})
	for i := range f.Members {
		go func() {
			defer func() { done <- struct{}{} }()
			observeMember(ctx, a, &f.Members[i])
		}()
	}
	for range f.Members {
		<-done
	}
	return f, nil
}

func memberList(ctx context.Context, a Access) (*clientv3.MemberListResponse, error) {
	var errs []error
	for _, ep := range a.Endpoints {
		c, err := dial(ctx, ep, a.TLS)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, tryTimeout)
		list, err := c.MemberList(tctx)
		cancel()
		c.Close()
		if err == nil {
			return list, nil
		}
		errs = append(errs, fmt.Errorf("member list from %s: %w", ep, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("no endpoint to ask for the member list")
	}
	return nil, errors.Join(errs...)
}

// observeMember fills in what m itself says.
func observeMember(ctx context.Context, a Access, m *Member) {
	if m.Name == "" {
		m.Err = "not started"
		return
	}
	ep := clientEndpoint(*m, a.TLS != nil)
	if ep == "" {
		m.Err = "no client URL it can be reached on without a client certificate"
	} else if err := status(ctx, ep, a.TLS, m); err != nil {
		m.Err = err.Error()
	} else {
		m.Up = true
	}
	if u := first(m.ClientURLs, isHTTPS); u != "" {
		m.ClientCertRequired = refusesNoCert(ctx, u+"/health")
	}
	if u := first(m.PeerURLs, isHTTPS); u != "" {
		m.PeerCertRequired = refusesNoCert(ctx, u+"/version")
	}
}

// clientEndpoint picks the URL to ask m on: https when there is a TLS client, else http.
func clientEndpoint(m Member, haveTLS bool) string {
	if haveTLS {
		if u := first(m.ClientURLs, isHTTPS); u != "" {
			return u
		}
	}
	return first(m.ClientURLs, func(u string) bool { return !isHTTPS(u) })
}

func status(ctx context.Context, ep string, tc *tls.Config, m *Member) error {
	c, err := dial(ctx, ep, tc)
	if err != nil {
		return err
	}
	defer c.Close()
	tctx, cancel := context.WithTimeout(ctx, tryTimeout)
	defer cancel()
	st, err := c.Status(tctx, ep)
	if err != nil {
		return fmt.Errorf("status from %s: %w", ep, err)
	}
	if len(st.Errors) > 0 {
		return fmt.Errorf("%s reports %s", ep, strings.Join(st.Errors, "; "))
	}
	m.Leader, m.RaftIndex, m.AppliedIndex, m.Version = st.Leader, st.RaftIndex, st.RaftAppliedIndex, st.Version
	return nil
}

func dial(ctx context.Context, ep string, tc *tls.Config) (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: []string{ep}, DialTimeout: tryTimeout, Logger: zap.NewNop(), Context: ctx}
	if isHTTPS(ep) {
		cfg.TLS = tc
	}
	c, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", ep, err)
	}
	return c, nil
}

// refusesNoCert reports whether url refuses a TLS client that has no certificate (and
// trusts any server): a TLS alert, as etcd sends with --client-cert-auth or
// --peer-client-cert-auth. An answer, or no answer at all, is not a refusal.
func refusesNoCert(ctx context.Context, url string) bool {
	c := &http.Client{Timeout: tryTimeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := c.Do(req)
	if err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return false
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

func isHTTPS(u string) bool { return strings.HasPrefix(u, "https://") }

func all(us []string, f func(string) bool) bool {
	for _, u := range us {
		if !f(u) {
			return false
		}
	}
	return true
}

func first(us []string, f func(string) bool) string {
	for _, u := range us {
		if f(u) {
			return u
		}
	}
	return ""
}
