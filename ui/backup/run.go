package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
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
	id      int
	report  *snapshot.Report
	err     error
	written []string // schedule files written into the destination
}

// job is one test run: its inputs, resolved before it starts so that a bad endpoint or a
// missing TLS file fails at once with a message naming it.
type job struct {
	conn    etcdconn.Conn
	opts    snapshot.TestOptions
	timeout time.Duration
	write   bool // write the schedule files after a passing test
	sched   string
}

// errTimedOut marks a test stopped by the step's timeout.
var errTimedOut = errors.New("the test did not finish within")

// newJob resolves the connection and the test's options from the session and answers.
func newJob(s *step.Session, a answers, o Options) (job, error) {
	conn, err := s.Conn()
	if err != nil {
		return job{conn: s.Etcd}, err
	}
	cfg, err := conn.ClientConfig()
	if err != nil {
		return job{conn: conn}, err
	}
	j := job{conn: conn, timeout: o.Timeout, write: a.write, sched: a.schedule, opts: snapshot.TestOptions{
		Client:  cfg,
		Dest:    a.dest,
		DataDir: etcdconn.DataDir(s.State),
		Name:    o.Name,
	}}
	if a.schedule != "none" {
		so := &snapshot.ScheduleOptions{Endpoint: conn.Endpoint(), CACert: conn.CACert, Cert: conn.Cert, Key: conn.Key, Dest: a.dest, Keep: a.keep}
		if s.State != nil && s.State.Etcd != nil {
			so.Image = s.State.Etcd.Image
		}
		j.opts.Schedule = so
	}
	return j, nil
}

// run takes and verifies the test snapshot, then writes the schedule files when asked.
// It blocks; ctx cancels it (the .part file is removed), and the job's timeout bounds it.
func (j job) run(ctx context.Context, progress func(snapshot.Progress)) doneMsg {
	// The connection check names a wrong endpoint or TLS file in seconds; the timeout
	// bounds the test after it.
	if err := j.conn.Check(ctx); err != nil {
		return doneMsg{err: err}
	}
	ctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	rep, err := snapshot.Test(ctx, j.opts, progress)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w %s: %w", errTimedOut, j.timeout, err)
		}
		return doneMsg{report: rep, err: err}
	}
	var written []string
	if j.write && rep.Schedule != nil {
		written, err = writeSchedule(j.opts.Dest, j.sched, rep.Schedule)
	}
	return doneMsg{report: rep, err: err, written: written}
}

// start runs the job on its own goroutine and returns the command that waits for its
// next message. Progress is sent without blocking (a newer report replaces a dropped one);
// the end is always delivered. A tea.Cmd returns one message, so each progressMsg is
// answered with another wait: the usual bubbletea pattern for a stream.
func (p *Step) start(s *step.Session) tea.Cmd {
	p.runID++
	id := p.runID
	p.prog, p.report, p.err, p.written = snapshot.Progress{}, nil, nil, nil
	j, err := newJob(s, p.ans, p.opts)
	p.conn = j.conn
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

// writeSchedule writes the chosen schedule files into dest, each atomically with mode
// 0600. A file that is already there with other content is left alone and is an error,
// so that an edited copy is never lost.
func writeSchedule(dest, which string, f *snapshot.ScheduleFiles) ([]string, error) {
	var files []struct{ name, text string }
	if which == "cronjob" || which == "both" {
		files = append(files, struct{ name, text string }{CronJobFile, f.CronJob})
	}
	if which == "systemd" || which == "both" {
		files = append(files,
			struct{ name, text string }{ServiceFile, f.SystemdService},
			struct{ name, text string }{TimerFile, f.SystemdTimer})
	}
	var written []string
	for _, file := range files {
		path := filepath.Join(dest, file.name)
		if old, err := os.ReadFile(path); err == nil && string(old) != file.text {
			return written, fmt.Errorf("%s exists with other content and was not overwritten: remove or rename it, or answer %s=false to only show the schedule", path, KeyWrite)
		}
		if err := writeAtomic(path, []byte(file.text)); err != nil {
			return written, fmt.Errorf("write the schedule file %s: %w", path, err)
		}
		written = append(written, path)
	}
	return written, nil
}

// Names of the schedule files written into the destination.
const (
	CronJobFile = "etcd-snapshot-cronjob.yaml"
	ServiceFile = "etcd-snapshot.service"
	TimerFile   = "etcd-snapshot.timer"
)

func writeAtomic(path string, data []byte) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err = tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err = tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
