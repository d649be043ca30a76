package backup

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// RunPlain implements step.Runner: the plain driver's test, run on its goroutine with its
// context (Ctrl-C cancels it and returns the context's error), with a progress line every
// 10 % for the log. A failed test is not an error here: the driver prints the step's view,
// which shows the checks and the error, and the step is not Ready.
func (p *Step) RunPlain(ctx context.Context, s *step.Session, _ io.Reader, out io.Writer) error {
	if p.phase != phaseWaiting {
		return nil
	}
	p.runID++
	j, err := newJob(s, p.ans, p.opts)
	p.conn = j.conn
	if err != nil {
		p.finish(s, doneMsg{id: p.runID, err: err})
		return nil
	}
	fmt.Fprintf(out, "snapshot: testing %s into %s\n", p.conn.Endpoint(), p.ans.dest)
	lines := &progressLog{out: out, last: -1}
	d := j.run(ctx, lines.report)
	if err := ctx.Err(); err != nil {
		return err
	}
	d.id = p.runID
	p.finish(s, d)
	return nil
}

// progressLog writes "snapshot: 45% 120 MiB/266 MiB 80 MiB/s" each time another tenth is
// done; when etcd did not say its size, a line every few seconds without the percentage.
type progressLog struct {
	out      io.Writer
	last     int // last tenth written
	lastTime time.Duration
	verified bool
}

// unknownEvery spaces the lines of a snapshot of unknown size.
const unknownEvery = 5 * time.Second

func (l *progressLog) report(pr snapshot.Progress) {
	speed := snapshot.HumanBytes(int64(pr.Speed)) + "/s"
	if pr.Total <= 0 {
		if pr.Elapsed-l.lastTime >= unknownEvery || l.last < 0 {
			l.last, l.lastTime = 0, pr.Elapsed
			fmt.Fprintf(l.out, "snapshot: %s %s\n", snapshot.HumanBytes(pr.Bytes), speed)
		}
		return
	}
	pct := int(percent(pr) * 100)
	if tenth := pct / 10; tenth > l.last {
		l.last = tenth
		fmt.Fprintf(l.out, "snapshot: %d%% %s/%s %s\n", pct, snapshot.HumanBytes(pr.Bytes), snapshot.HumanBytes(pr.Total), speed)
	}
	if pr.Bytes >= pr.Total && !l.verified {
		l.verified = true
		fmt.Fprintln(l.out, "snapshot: saved; verifying (sha256 trailer, bbolt consistency, status, restore rehearsal)")
	}
}
