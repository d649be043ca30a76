package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrUnhealthy is wrapped by Gate's error when the cluster did not become healthy in time.
var ErrUnhealthy = errors.New("the etcd cluster is not healthy")

// GateOptions tune Gate.
type GateOptions struct {
	// Timeout is how long the cluster may take (DefaultGateTimeout when zero).
	Timeout time.Duration
	// Interval is the pause between observations (500 ms when zero).
	Interval time.Duration
	// CatchUp names a member (just restarted) whose applied raft index must reach the
	// leader's index as first seen healthy; empty skips that.
	CatchUp string
	// Access returns how to dial the members now; it is called on each try, since a
	// restart may change what the node can dial with.
	Access func() Access
	// Progress is called after each try that did not pass, with why.
	Progress func(elapsed time.Duration, problem string)
}

// DefaultGateTimeout is how long Gate waits by default: a member restart with an
// election and a catch-up takes seconds; a minute covers a slow disk.
const DefaultGateTimeout = time.Minute

// Gate observes the cluster until every member is started and answering, all follow one
// leader, and o.CatchUp (if any) has applied the raft index the leader had when the
// cluster was first seen healthy. It returns the passing facts, or an error wrapping
// ErrUnhealthy with the last problem seen.
func Gate(ctx context.Context, o GateOptions) (*Facts, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultGateTimeout
	}
	if o.Interval <= 0 {
		o.Interval = 500 * time.Millisecond
	}
	start := time.Now()
	deadline := time.NewTimer(o.Timeout)
	defer deadline.Stop()
	var target uint64
	for {
		f, err := Observe(ctx, o.Access())
		problem := ""
		switch {
		case err != nil:
			problem = err.Error()
		case f.Problem() != "":
			problem = f.Problem()
		case o.CatchUp != "":
			problem = catchUp(f, o.CatchUp, &target)
		}
		if problem == "" {
			return f, nil
		}
		if o.Progress != nil {
			o.Progress(time.Since(start), problem)
		}
		select {
		case <-ctx.Done():
			return f, fmt.Errorf("%w: stopped after %s (%w); last problem: %s", ErrUnhealthy, time.Since(start).Round(time.Second), ctx.Err(), problem)
		case <-deadline.C:
			return f, fmt.Errorf("%w within %s: %s", ErrUnhealthy, o.Timeout, problem)
		case <-time.After(o.Interval):
		}
	}
}

// catchUp returns "" once member name has applied *target, the leader's raft index when
// first seen (set on the first call).
func catchUp(f *Facts, name string, target *uint64) string {
	m := f.Member(name)
	if m == nil {
		return fmt.Sprintf("%s is not in the member list", name)
	}
	if *target == 0 {
		for _, l := range f.Members {
			if l.ID == m.Leader {
				*target = l.RaftIndex
			}
		}
	}
	if m.AppliedIndex < *target {
		return fmt.Sprintf("%s has applied raft index %d of %d: catching up", name, m.AppliedIndex, *target)
	}
	return ""
}
