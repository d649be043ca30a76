package backup

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

// View implements step.Step.
func (p *Step) View(f step.Frame) string {
	switch p.phase {
	case phaseAsking:
		if p.form != nil {
			return p.form.View()
		}
		return "Waiting for the answers…"
	case phaseWaiting:
		return "Ready to take a test snapshot into " + p.ans.dest + "."
	case phaseRunning:
		return p.progressView(f)
	case phaseSkipped:
		return f.R.Summary(render.Summary{
			Title: "Skipped: no test snapshot was taken.",
			Todo:  []string{"Take and verify a snapshot yourself: etcd-harden snapshot test --dest " + p.ans.dest},
		}, f.Width)
	}
	return p.resultView(f)
}

// progressView is the bar while the snapshot streams, and a spinner around it.
func (p *Step) progressView(f step.Frame) string {
	head := "Test snapshot of " + p.conn.Endpoint() + " into " + p.ans.dest
	pr := p.prog
	switch {
	case pr.Bytes == 0:
		return head + "\n\n" + p.spin.View() + " Checking the destination and asking etcd for its size…"
	case pr.Total > 0 && pr.Bytes >= pr.Total:
		return head + "\n\n" + p.spin.View() + " Saved " + snapshot.HumanBytes(pr.Bytes) +
			"; verifying it: bbolt consistency and status in one read, then the member's KV hash…"
	}
	if f.Width > 0 {
		p.bar.SetWidth(min(60, max(f.Width-8, 10)))
	}
	bar := p.bar.ViewAs(percent(pr))
	if pr.Total > 0 {
		bar += fmt.Sprintf(" %3d%%", int(percent(pr)*100))
	}
	return head + "\n\n" + bar + "\n" + progressLine(pr)
}

func percent(pr snapshot.Progress) float64 {
	if pr.Total <= 0 {
		return 0
	}
	return min(float64(pr.Bytes)/float64(pr.Total), 1)
}

// progressLine reads "120 MiB of 266 MiB · 80 MiB/s · about 2s left".
func progressLine(pr snapshot.Progress) string {
	parts := []string{snapshot.HumanBytes(pr.Bytes)}
	if pr.Total > 0 {
		parts[0] += " of " + snapshot.HumanBytes(pr.Total)
	}
	if pr.Speed > 0 {
		parts = append(parts, snapshot.HumanBytes(int64(pr.Speed))+"/s")
	}
	if pr.ETA > 0 {
		parts = append(parts, "about "+pr.ETA.Round(time.Second).String()+" left")
	}
	return strings.Join(parts, " · ")
}

// resultView is the outcome: facts, every check with its timing, the error when the test
// failed, and the schedule to copy.
func (p *Step) resultView(f step.Frame) string {
	var blocks []string
	if facts := p.facts(); len(facts) > 0 {
		blocks = append(blocks, f.R.Facts(facts, f.Width))
	}
	if checks := p.checks(); len(checks) > 0 {
		blocks = append(blocks, f.R.Checks(checks, f.Width))
	}
	if p.err != nil {
		blocks = append(blocks, f.R.Error(p.errorView(), f.Width))
	}
	blocks = append(blocks, p.scheduleBlocks(f)...)
	return strings.Join(blocks, "\n\n")
}

func (p *Step) errorView() render.Error {
	path, fix := p.errorKind()
	e := step.ErrorView(p.err, fix)
	if e.Path == "" {
		e.Path = path
	}
	return e
}

// facts, checks and scheduleBlocks show an offsite or sealed run as the commands do
// (`snapshot test --dest s3://…`, `--encrypt-to`), and a folder's test as `snapshot test`.
func (p *Step) facts() []render.Fact {
	switch {
	case p.store != nil:
		return view.OffsiteFacts(p.off, p.store, p.conn.Endpoint())
	case p.off != nil:
		return append(view.SnapshotFacts(p.off.Local, p.conn.Endpoint(), p.ans.dest), view.OffsiteFacts(p.off, nil, "")...)
	}
	return view.SnapshotFacts(p.report, p.conn.Endpoint(), p.ans.dest)
}

func (p *Step) checks() []render.Check {
	if p.off != nil {
		return view.OffsiteChecks(p.off)
	}
	return view.SnapshotChecks(p.report)
}

func (p *Step) scheduleBlocks(f step.Frame) []string {
	switch {
	case p.report == nil || p.err != nil:
		return nil
	case p.off != nil && p.off.Schedule != nil:
		return view.OffsiteScheduleBlocks(f.R, f.Width, p.off, p.ans.schedule)
	case p.off != nil:
		return view.ScheduleBlocks(f.R, f.Width, p.off.Local, p.ans.schedule)
	}
	return view.ScheduleBlocks(f.R, f.Width, p.report, p.ans.schedule)
}
