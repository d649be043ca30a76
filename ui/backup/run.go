package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// progressMsg is one progress report of run id.
type progressMsg struct {
	id int
	p  snapshot.Progress
}

// doneMsg ends run id.
type doneMsg struct {
	id     int
	report *snapshot.Report
	// off is the whole report of an offsite or sealed run, which the view shows as the
	// commands do; report is its snapshot part, for the session.
	off *offsite.Report
	err error
}

// job is one test run, resolved before it starts so that a bad endpoint or a missing
// TLS file fails at once with a message naming it.
type job struct {
	conn etcdconn.Conn
	test *snapshot.Job
	off  *offsite.Job // an s3:// destination (offsite.go)
	// sealed is a folder whose snapshots are sealed (backup.encryptTo): offsite.SaveFolder.
	sealed *offsite.FolderRequest
	st     *step.Session
}

// newJob resolves the connection and the test from the session and answers.
func newJob(s *step.Session, a answers, o Options) (job, error) {
	conn, err := s.Conn()
	if err != nil {
		return job{conn: s.Etcd}, err
	}
	if offsite.IsURL(a.dest) {
		off, err := newOffsiteJob(s, conn, a, o)
		return job{conn: conn, off: off}, err
	}
	if strings.TrimSpace(a.encryptTo) != "" {
		req, err := sealedFolderRequest(a, o)
		return job{conn: conn, sealed: &req, st: s}, err
	}
	test, err := snapshot.NewJob(conn, s.State, snapshot.Request{
		Dest: a.dest, Name: o.Name, Timeout: o.Timeout, Schedule: a.schedule, Keep: a.keep, Write: a.write, Rehearse: a.rehearse,
	})
	return job{conn: conn, test: test}, err
}

// run takes and verifies the test snapshot, then writes the schedule files when asked
// (snapshot.Job.Run). It blocks; ctx cancels it.
func (j job) run(ctx context.Context, progress func(snapshot.Progress)) doneMsg {
	if j.off != nil {
		rep, err := j.off.Run(ctx, offsite.Observer{Save: progress})
		return doneMsg{report: asSnapshotReport(rep), off: rep, err: scheduleHint(err)}
	}
	if j.sealed != nil {
		rep, err := offsite.SaveFolder(ctx, j.conn, j.st.State, *j.sealed)
		return doneMsg{report: asSnapshotReport(rep), off: rep, err: scheduleHint(err)}
	}
	rep, err := j.test.Run(ctx, progress)
	return doneMsg{report: rep, err: scheduleHint(err)}
}

// scheduleHint adds the answer that avoids an edited schedule file.
func scheduleHint(err error) error {
	if errors.Is(err, snapshot.ErrScheduleExists) {
		return fmt.Errorf("%w, or answer %s=false to only show the schedule", err, KeyWrite)
	}
	return err
}

// start runs the job on its own goroutine and returns the command that waits for its
// next message. Progress is sent without blocking (a newer report replaces a dropped one);
// the end is always delivered. A tea.Cmd returns one message, so each progressMsg is
// answered with another wait: the usual bubbletea pattern for a stream.
func (p *Step) start(s *step.Session) tea.Cmd {
	p.runID++
	id := p.runID
	p.prog, p.report, p.off, p.err = snapshot.Progress{}, nil, nil, nil
	j, err := newJob(s, p.ans, p.opts)
	p.conn, p.store = j.conn, j.store()
	if err != nil {
		p.phase = phaseDone
		return p.finish(s, doneMsg{id: id, err: err})
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.phase = phaseRunning
	prog := make(chan tea.Msg, 1)
	done := make(chan tea.Msg, 1)
	finished := make(chan struct{})
	p.finished = finished
	go func() {
		defer close(finished)
		defer cancel()
		d := j.run(ctx, func(pr snapshot.Progress) {
			select {
			case prog <- progressMsg{id: id, p: pr}:
			default:
			}
		})
		d.id = id
		done <- d
	}()
	p.wait = func() tea.Msg {
		select {
		case m := <-prog:
			return m
		case m := <-done:
			return m
		}
	}
	return tea.Batch(p.wait, p.spin.Tick)
}

// store is the opened S3 destination, nil for a folder.
func (j job) store() *offsite.Store {
	if j.off == nil {
		return nil
	}
	return j.off.Store()
}
