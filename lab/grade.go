package lab

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

// GoalStatus is a goal's outcome.
type GoalStatus string

// Outcomes of a goal.
const (
	GoalPass GoalStatus = "pass"
	GoalFail GoalStatus = "fail"
)

// GoalResult is one goal as graded: what was observed on the files and from etcd.
type GoalResult struct {
	ID       string     `json:"id"`
	Title    string     `json:"title"`
	Status   GoalStatus `json:"status"`
	Observed string     `json:"observed"`
}

// Report is `lab check`: the scenario's goals, each graded, and the score.
type Report struct {
	Scenario string       `json:"scenario"`
	Root     string       `json:"root"`
	Started  time.Time    `json:"started"`
	Checked  time.Time    `json:"checked"`
	Goals    []GoalResult `json:"goals"`
	Passed   int          `json:"passed"`
	Total    int          `json:"total"`
	// Score is Passed out of Total, in percent.
	Score int `json:"score"`
}

// Done reports whether every goal passed.
func (r *Report) Done() bool { return r.Passed == r.Total }

// GradeOptions tune Grade.
type GradeOptions struct {
	// EtcdDown, when set, is why etcd cannot be asked (the lab does not run): goals
	// that ask etcd fail with it.
	EtcdDown error
	// VerifyCommand runs the snapshot verifier's child (snapshot.VerifyOptions.Command).
	VerifyCommand func(args []string) *exec.Cmd
	// Now is the time of the check; time.Now() when zero.
	Now time.Time
}

// grader holds what the goals share, each read once: the manifests, the encryption
// config, etcd's answer and its status scan.
type grader struct {
	root string
	rec  Record
	opts GradeOptions

	st    *discover.State
	stErr error

	etcdChecked bool
	conn        etcdconn.Conn
	etcdErr     error

	cur     *encryption.Current
	curErr  error
	curRead bool

	scan     *encryption.StatusReport
	scanErr  error
	scanDone bool
}

// Grade checks the goals of the scenario the lab rooted at root was laid out for, from
// its files and from its etcd. The error is for a folder that is no scenario lab.
func Grade(ctx context.Context, root string, opts GradeOptions) (*Report, error) {
	rec, err := ReadRecord(root)
	if err != nil {
		return nil, err
	}
	sc, err := FindScenario(rec.Scenario)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", RecordFile, err)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	g := &grader{root: root, rec: rec, opts: opts}
	g.st, g.stErr = discover.Load(discover.Defaults(root, "", ""))
	rep := &Report{Scenario: sc.Name, Root: root, Started: rec.Started, Checked: opts.Now.UTC().Truncate(time.Second)}
	for _, id := range sc.Goals {
		ok, observed := goals[id].check(ctx, g)
		res := GoalResult{ID: id, Title: goals[id].title, Status: GoalFail, Observed: observed}
		if ok {
			res.Status = GoalPass
			rep.Passed++
		}
		rep.Goals = append(rep.Goals, res)
	}
	rep.Total = len(rep.Goals)
	if rep.Total > 0 {
		rep.Score = rep.Passed * 100 / rep.Total
	}
	return rep, nil
}

// etcd returns how to reach etcd as kube-apiserver does (the manifests) and nil when
// it answers, else why not.
func (g *grader) etcd(ctx context.Context) (etcdconn.Conn, error) {
	if g.etcdChecked {
		return g.conn, g.etcdErr
	}
	g.etcdChecked = true
	switch {
	case g.opts.EtcdDown != nil:
		g.etcdErr = g.opts.EtcdDown
	case g.stErr != nil:
		g.etcdErr = g.stErr
	default:
		if g.conn, g.etcdErr = etcdconn.FromState(g.st); g.etcdErr == nil {
			g.etcdErr = g.conn.Check(ctx)
		}
	}
	return g.conn, g.etcdErr
}

// config returns the encryption config kube-apiserver.yaml names (nil, nil for none).
func (g *grader) config() (*encryption.Current, error) {
	if !g.curRead {
		g.curRead = true
		if g.stErr != nil {
			g.curErr = g.stErr
		} else {
			g.cur, g.curErr = encryption.Locate(g.st)
		}
	}
	return g.cur, g.curErr
}

// secrets scans how etcd holds the Secrets, checked against the config when it reads.
func (g *grader) secrets(ctx context.Context) (*encryption.StatusReport, error) {
	if g.scanDone {
		return g.scan, g.scanErr
	}
	g.scanDone = true
	conn, err := g.etcd(ctx)
	if err != nil {
		g.scanErr = err
		return nil, err
	}
	var cfg *encryption.Config
	if cur, err := g.config(); err == nil && cur != nil {
		cfg = cur.Config
	}
	g.scan, g.scanErr = encryption.Scan(ctx, conn, []string{"secrets"}, cfg, time.Minute)
	return g.scan, g.scanErr
}

// errText is err's message, for an observation.
func errText(err error) string {
	var e *etcdconn.Error
	if errors.As(err, &e) {
		return fmt.Sprintf("etcd at %s: %s", e.Endpoint, e.Reason)
	}
	return err.Error()
}
