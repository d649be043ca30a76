package backup

import (
	"context"
	"fmt"
	"io"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/view"
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
	p.report, p.off, p.err = nil, nil, nil
	j, err := newJob(s, p.ans, p.opts)
	p.conn, p.store = j.conn, j.store()
	if err != nil {
		p.finish(s, doneMsg{id: p.runID, err: err})
		return nil
	}
	fmt.Fprintf(out, "snapshot: testing %s into %s\n", p.conn.Endpoint(), p.ans.dest)
	d := j.run(ctx, view.SnapshotProgress(render.NewProgress(out, false)))
	if err := ctx.Err(); err != nil {
		return err
	}
	d.id = p.runID
	p.finish(s, d)
	return nil
}
