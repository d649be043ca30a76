package snapshot

import (
	"context"
	"errors"
	"fmt"
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
	Content  *Content       `json:"content,omitempty"`
	Schedule *ScheduleFiles `json:"schedule,omitempty"`
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
}

// ErrDestination is wrapped by Test's error when a destination check failed.
var ErrDestination = errors.New("the destination failed its checks")

// Test runs step 4 end to end: it reads the DB size from the endpoint for the free-space
// check, checks the destination, saves a snapshot and verifies it. The Report is returned
// even on error, filled as far as the test went.
func Test(ctx context.Context, o TestOptions, progress func(Progress)) (*Report, error) {
	r := &Report{Dest: o.Dest}
	// An unknown size becomes a warning in CheckDest, so the checks are shown either way.
	size, serr := dbSize(ctx, o.Client)
	r.Checks = CheckDest(o.Dest, o.DataDir, size)
	if o.Schedule != nil {
		r.Schedule = scheduleFiles(*o.Schedule, o)
	}
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
	res, err := Save(ctx, o.Client, o.Dest, name, progress)
	if err != nil {
		return r, r.fail(err)
	}
	r.Save = res
	v, err := Verify(ctx, res.Path)
	r.Verification = v
	if err != nil {
		return r, r.fail(err)
	}
	r.Content = CompareContent(ctx, res.Endpoint, v.KV, MemberHashKV(o.Client))
	if r.Content.Status == StatusFail {
		v.OK = false
		return r, r.fail(markCorrupt(v, VerifyContent, fmt.Errorf("%w: %s", ErrMismatch, r.Content.Message)))
	}
	return r, nil
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
	c, svc, tm := Schedule(s)
	return &ScheduleFiles{CronJob: c, SystemdService: svc, SystemdTimer: tm}
}

// dbSize asks the single endpoint for its DB size, bounded like Save's status call.
func dbSize(ctx context.Context, cfg clientv3.Config) (int64, error) {
	if len(cfg.Endpoints) != 1 {
		return 0, errEndpoints(cfg.Endpoints)
	}
	cfg = withNopLogger(cfg)
	cli, err := clientv3.New(cfg)
	if err != nil {
		return 0, fmt.Errorf("connect to etcd at %s: %w; check --endpoints, --cacert, --cert and --key", cfg.Endpoints[0], err)
	}
	defer cli.Close()
	st, err := status(ctx, cli, cfg)
	if err != nil {
		return 0, err
	}
	return st.DbSize, nil
}
