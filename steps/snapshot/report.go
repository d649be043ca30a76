package snapshot

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime/debug"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Report is the whole of `snapshot test`, ready for `-o json`: the destination checks, the
// save, the verification and the suggested schedule. Sections that did not run are nil.
type Report struct {
	Dest         string        `json:"dest"`
	Checks       []Check       `json:"checks"`
	Save         *Result       `json:"save,omitempty"`
	Verification *Verification `json:"verification,omitempty"`
	// Content compares the snapshot's KV hash with the member's at the same revision; the
	// first line of the verification.
	Content *Content `json:"content,omitempty"`
	// Rehearsal says whether the restore rehearsal ran, and why not when it did not:
	// "ran" or "not run: <reason>" ("" when the test stopped before it was decided).
	Rehearsal string         `json:"rehearsal,omitempty"`
	Schedule  *ScheduleFiles `json:"schedule,omitempty"`
	// ScheduleWritten are the schedule files written into Dest (Request.Write).
	ScheduleWritten []string `json:"scheduleWritten,omitempty"`
	// Error is the error that stopped the test, as text; "" when it passed.
	Error string `json:"error,omitempty"`
}

// ScheduleFiles are the three files Schedule writes, for the report.
type ScheduleFiles struct {
	CronJob        string `json:"cronJob"`
	SystemdService string `json:"systemdService"`
	SystemdTimer   string `json:"systemdTimer"`
}

// TestOptions are the inputs of Test.
type TestOptions struct {
	Client clientv3.Config
	Dest   string
	// DataDir is etcd's --data-dir, for the "outside data dir" check ("" when unknown).
	DataDir string
	// Name of the snapshot; DefaultName(now) when "".
	Name string
	// Schedule, when not nil, fills Report.Schedule (Endpoint, certs and Dest are taken
	// from Client's first endpoint and Dest when empty).
	Schedule *ScheduleOptions
	// Rehearse says when the restore rehearsal runs; RehearseAuto when "".
	Rehearse Rehearsal
}

// Rehearsal says when a test runs the restore rehearsal.
type Rehearsal string

// When the restore rehearsal runs.
const (
	// RehearseAuto runs it only when the member's KV hash could not prove the content.
	RehearseAuto   Rehearsal = "auto"
	RehearseAlways Rehearsal = "always"
	RehearseNever  Rehearsal = "never"
)

// Rehearsals are the accepted values, for flags and answers.
var Rehearsals = []Rehearsal{RehearseAuto, RehearseAlways, RehearseNever}

// CheckRehearsal accepts "" (auto) and the Rehearsals.
func CheckRehearsal(s string) error {
	for _, r := range Rehearsals {
		if s == "" || Rehearsal(s) == r {
			return nil
		}
	}
	return fmt.Errorf("want one of auto, always, never")
}

// runs says whether the rehearsal runs after a comparison that ended in c.
func (r Rehearsal) runs(c *Content) bool {
	switch r {
	case RehearseAlways:
		return true
	case RehearseNever:
		return false
	}
	return c == nil || c.Status != StatusPass
}

// ErrDestination is wrapped by Test's error when a destination check failed.
var ErrDestination = errors.New("the destination failed its checks")

// Test runs step 4 end to end over one client of the endpoint: it reads the DB size for
// the free-space check, checks the destination, saves a snapshot (its sha256 trailer
// checked while it streams), verifies it (bbolt check and status in one read), compares
// its KV hash with the member's, and rehearses a restore when o.Rehearse asks. The Report
// is returned even on error, filled as far as the test went. The snapshot's pages are
// dropped from the page cache at the end, so that a large snapshot does not push etcd's
// own data out of memory.
func Test(ctx context.Context, o TestOptions, progress func(Progress)) (*Report, error) {
	r := &Report{Dest: o.Dest}
	if o.Schedule != nil {
		r.Schedule = scheduleFiles(*o.Schedule, o)
	}
	m, err := dial(o.Client)
	if err != nil {
		r.Checks = CheckDest(o.Dest, o.DataDir, 0)
		return r, r.fail(err)
	}
	defer m.Close()
	// An unknown size becomes a warning in CheckDest, so the checks are shown either way.
	var size int64
	st, serr := m.status(ctx)
	if serr == nil {
		size = st.DbSize
	}
	r.Checks = CheckDest(o.Dest, o.DataDir, size)
	if Failed(r.Checks) {
		return r, r.fail(fmt.Errorf("%w: %s", ErrDestination, firstFailure(r.Checks)))
	}
	if serr != nil {
		return r, r.fail(serr)
	}
	name := o.Name
	if name == "" {
		name = DefaultName(time.Now())
	}
	res, err := m.save(ctx, o.Dest, name, progress)
	if err != nil {
		return r, r.fail(err)
	}
	r.Save = res
	defer dropCache(res.Path)
	// The stream's buffers are garbage now: hand them back before the verify child
	// starts, so that the two processes' peak is the child's, not the sum.
	debug.FreeOSMemory()
	vo := VerifyOptions{Trailer: res.Trailer}
	// Asked for in any case, the rehearsal runs beside the inspection; the member hashes
	// while the file is read.
	early := newEarlyHash(ctx, m.hashKV)
	all := vo
	all.Rehearse = o.Rehearse == RehearseAlways
	all.OnRevision = early.start
	v, err := VerifyWith(ctx, res.Path, all)
	r.Verification = v
	if err != nil {
		return r, r.fail(err)
	}
	return r, r.prove(ctx, res.Endpoint, early.get, o.Rehearse, vo)
}

// FileOptions are the inputs of VerifyFile.
type FileOptions struct {
	// Client, when not nil, is the member to compare the snapshot's KV hash with.
	Client *clientv3.Config
	// Rehearse says when the restore rehearsal runs; RehearseAuto when "".
	Rehearse Rehearsal
	// Verify carries the test seams (Command); VerifyFile sets LeaveCorrupt itself.
	Verify VerifyOptions
}

// VerifyFile is `snapshot verify`: the verification of Test for a snapshot file taken by
// anyone (etcdctl in a cron job, say): the sha256 trailer, the bbolt check and status in
// one read, the comparison with a member's KV hash when o.Client is given, and the restore
// rehearsal as o.Rehearse says. A file that fails stays where it is (its owner's job
// keeps it), and the error wraps ErrCorrupt. The Report is returned even on error.
func VerifyFile(ctx context.Context, path string, o FileOptions) (*Report, error) {
	r := &Report{Dest: filepath.Dir(path)}
	vo := o.Verify
	vo.LeaveCorrupt = true
	all := vo
	all.Rehearse = o.Rehearse == RehearseAlways
	var early *earlyHash
	if o.Client != nil {
		early = newEarlyHash(ctx, MemberHashKV(*o.Client))
		all.OnRevision = early.start
	}
	v, err := VerifyWith(ctx, path, all)
	r.Verification = v
	if err != nil {
		return r, r.fail(err)
	}
	defer dropCache(path)
	if o.Client == nil {
		return r, r.prove(ctx, "", nil, o.Rehearse, vo)
	}
	member := "the member"
	if len(o.Client.Endpoints) == 1 {
		member = o.Client.Endpoints[0]
	}
	return r, r.prove(ctx, member, early.get, o.Rehearse, vo)
}

// prove ends a verification that passed: it compares the snapshot's KV hash with the
// member's (when hashKV is not nil; a mismatch marks the file corrupt), then runs the
// restore rehearsal when mode asks for it or when the comparison proved nothing.
func (r *Report) prove(ctx context.Context, member string, hashKV HashKVFunc, mode Rehearsal, vo VerifyOptions) error {
	v := r.Verification
	if hashKV != nil {
		r.Content = CompareContent(ctx, member, v.KV, hashKV)
		if r.Content.Status == StatusFail {
			v.OK = false
			return r.fail(markCorrupt(v, VerifyContent, fmt.Errorf("%w: %s", ErrMismatch, r.Content.Message), vo))
		}
	}
	if !mode.runs(r.Content) {
		r.Rehearsal = "not run: the member's KV hash proved the content (rehearse always runs it)"
		if mode == RehearseNever {
			r.Rehearsal = "not run: rehearse never was asked for"
		}
		return nil
	}
	r.Rehearsal = "ran"
	if v.Rehearsed() {
		return nil
	}
	if err := Rehearse(ctx, v, vo); err != nil {
		return r.fail(err)
	}
	return nil
}

func (r *Report) fail(err error) error {
	r.Error = err.Error()
	return err
}

func firstFailure(checks []Check) string {
	for _, c := range checks {
		if c.Status == StatusFail {
			return c.Name + ": " + c.Message + "; " + c.Fix
		}
	}
	return ""
}

func scheduleFiles(s ScheduleOptions, o TestOptions) *ScheduleFiles {
	if s.Endpoint == "" && len(o.Client.Endpoints) > 0 {
		s.Endpoint = o.Client.Endpoints[0]
	}
	if s.Dest == "" {
		s.Dest = o.Dest
	}
	if len(s.SaveArgs) > 0 {
		c, svc, tm, _ := SaveSchedule(SaveScheduleOptions{ScheduleOptions: s, Args: s.SaveArgs})
		return &ScheduleFiles{CronJob: c, SystemdService: svc, SystemdTimer: tm}
	}
	c, svc, tm := Schedule(s)
	return &ScheduleFiles{CronJob: c, SystemdService: svc, SystemdTimer: tm}
}
