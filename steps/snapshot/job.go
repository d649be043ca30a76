package snapshot

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// DefaultTimeout bounds a test: the save and the verification together.
const DefaultTimeout = 5 * time.Minute

// ErrTimedOut is wrapped by Job.Run's error when the test ran out of its timeout.
var ErrTimedOut = errors.New("the test did not finish within")

// Request is what a door asks of a snapshot test, from its flags or its answers.
type Request struct {
	// Dest is the folder the snapshot goes to (an absolute path).
	Dest string
	// Name of the snapshot; DefaultName(now) when "".
	Name string
	// Timeout bounds the save and the verification; DefaultTimeout when 0.
	Timeout time.Duration
	// Schedule is the schedule to suggest, one of Schedules ("" is "none").
	Schedule string
	// Keep is how many snapshots the schedule keeps.
	Keep int
	// Write asks for the schedule files to be written into Dest after a passing test.
	Write bool
	// Rehearse says when the restore rehearsal runs; RehearseAuto when "".
	Rehearse Rehearsal
	// SaveArgs, when not empty, make the schedule run `etcd-harden snapshot save` with
	// these flags instead of etcdctl (ScheduleOptions.SaveArgs): for sealed snapshots.
	SaveArgs []string
}

// Job is one snapshot test with its inputs resolved, ready to Run.
type Job struct {
	conn etcdconn.Conn
	req  Request
	opts TestOptions
}

// NewJob resolves a test from the connection, the node's state (etcd's data dir and
// image; nil when unknown) and the request. A TLS file that cannot be read fails here,
// at once, before anything is dialled or written.
func NewJob(conn etcdconn.Conn, st *discover.State, r Request) (*Job, error) {
	cfg, err := conn.ClientConfig()
	if err != nil {
		return nil, err
	}
	if r.Timeout <= 0 {
		r.Timeout = DefaultTimeout
	}
	j := &Job{conn: conn, req: r, opts: TestOptions{Client: cfg, Dest: r.Dest, DataDir: etcdconn.DataDir(st), Name: r.Name, Rehearse: r.Rehearse}}
	if r.Schedule != "" && r.Schedule != "none" {
		so := &ScheduleOptions{Endpoint: conn.Endpoint(), CACert: conn.CACert, Cert: conn.Cert, Key: conn.Key, Dest: r.Dest, Keep: r.Keep, SaveArgs: r.SaveArgs}
		if st != nil && st.Etcd != nil {
			so.Image = st.Etcd.Image
		}
		j.opts.Schedule = so
	}
	return j, nil
}

// Run is the snapshot test as every door runs it (`snapshot test`, the wizard's backup
// step). The connection check names a wrong endpoint or TLS file in seconds, before the
// destination is touched and before the timeout starts: the timeout bounds the test, not
// the dial. Then Test runs within the timeout, and a passing test writes the schedule
// files when the request asks (Report.ScheduleWritten). progress, when not nil, follows
// the save. The Report is returned even on error, filled as far as the test went; ctx
// cancels it (the .part file is removed).
func (j *Job) Run(ctx context.Context, progress func(Progress)) (*Report, error) {
	if err := j.conn.Check(ctx); err != nil {
		return &Report{Dest: j.req.Dest, Error: err.Error()}, err
	}
	tctx, cancel := context.WithTimeout(ctx, j.req.Timeout)
	defer cancel()
	rep, err := Test(tctx, j.opts, progress)
	if err != nil {
		if ctx.Err() == nil && errors.Is(tctx.Err(), context.DeadlineExceeded) {
			err = rep.fail(fmt.Errorf("%w %s: %w", ErrTimedOut, j.req.Timeout, err))
		}
		return rep, err
	}
	if j.req.Write && rep.Schedule != nil {
		if rep.ScheduleWritten, err = WriteSchedule(j.req.Dest, j.req.Schedule, rep.Schedule); err != nil {
			return rep, rep.fail(err)
		}
	}
	return rep, nil
}
