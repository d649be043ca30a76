package backup

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
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
			"; verifying it: sha256 trailer, bbolt consistency, status, restore rehearsal…"
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

func (p *Step) facts() []render.Fact {
	return ReportFacts(p.report, p.conn.Endpoint(), p.ans.dest, p.written)
}

func (p *Step) checks() []render.Check { return ReportChecks(p.report) }

// ReportFacts are a test's inputs and what it found out about the snapshot: endpoint,
// destination, file, size, timing, speed, versions, revision, key count, and the schedule
// files written. rep may be nil (the test did not start).
func ReportFacts(rep *snapshot.Report, endpoint, dest string, written []string) []render.Fact {
	var fs []render.Fact
	add := func(k, v string) { fs = append(fs, render.Fact{Key: k, Value: v}) }
	if endpoint != "" {
		add("endpoint", endpoint)
	}
	add("destination", dest)
	if rep == nil {
		return fs
	}
	if s := rep.Save; s != nil {
		add("snapshot", s.Path)
		add("size", snapshot.HumanBytes(s.Size))
		add("took", roundDuration(s.Duration))
		add("speed", snapshot.HumanBytes(int64(s.Speed))+"/s")
		if s.ServerVersion != "" {
			add("etcd version", s.ServerVersion)
		}
	}
	if v := rep.Verification; v != nil {
		add("revision", strconv.FormatInt(v.Revision, 10))
		add("keys", strconv.Itoa(v.TotalKeys))
		sv := v.StorageVersion
		if sv == "" {
			sv = snapshot.NoStorageVersion
		}
		add("storage version", sv)
		if v.CorruptPath != "" {
			add("moved aside to", v.CorruptPath)
		}
	}
	for _, w := range written {
		add("schedule file", w)
	}
	return fs
}

// ReportChecks are a test's destination checks ("dest"), the save ("save") and the
// verification steps ("verify"), each with its timing; nil when rep is nil.
func ReportChecks(rep *snapshot.Report) []render.Check {
	if rep == nil {
		return nil
	}
	var cs []render.Check
	for _, c := range rep.Checks {
		cs = append(cs, render.Check{ID: "dest", Title: c.Name, Status: render.Status(c.Status), Detail: c.Message, Fix: c.Fix})
	}
	if s := rep.Save; s != nil {
		cs = append(cs, render.Check{ID: "save", Title: "snapshot saved", Status: render.Pass,
			Detail: snapshot.HumanBytes(s.Size) + " from " + s.Endpoint + " · " + roundDuration(s.Duration)})
	}
	if v := rep.Verification; v != nil {
		for _, st := range v.Steps {
			cs = append(cs, render.Check{ID: "verify", Title: st.Name, Status: render.Status(st.Status),
				Detail: st.Message + " · " + roundDuration(st.Took)})
		}
	}
	return cs
}

// roundDuration keeps timings readable: 12ms, 1.23s.
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(10 * time.Millisecond).String()
}

func (p *Step) scheduleBlocks(f step.Frame) []string {
	if p.report == nil || p.err != nil {
		return nil
	}
	return ScheduleBlocks(f.R, f.Width, p.report.Schedule, p.ans.schedule, p.written)
}

// ScheduleBlocks are the schedule files of which ("cronjob", "systemd" or "both") as text
// to copy, each under a line saying where it was written (a path in written) or what to
// do with it. nil when files is nil or which is "none".
func ScheduleBlocks(r render.Renderer, width int, files *snapshot.ScheduleFiles, which string, written []string) []string {
	if files == nil {
		return nil
	}
	var out []string
	block := func(title, name, text, use string) {
		where := use
		for _, w := range written {
			if filepath.Base(w) == name {
				where = "written to " + w
			}
		}
		out = append(out, r.Facts([]render.Fact{{Key: title, Value: where}}, width)+"\n\n"+strings.TrimRight(text, "\n"))
	}
	if which == "cronjob" || which == "both" {
		block("CronJob "+CronJobFile, CronJobFile, files.CronJob, "save it as "+CronJobFile+", review it, then kubectl apply -f "+CronJobFile)
	}
	if which == "systemd" || which == "both" {
		block("systemd "+ServiceFile, ServiceFile, files.SystemdService, "save it as /etc/systemd/system/"+ServiceFile)
		block("systemd "+TimerFile, TimerFile, files.SystemdTimer, "save it as /etc/systemd/system/"+TimerFile+", then systemctl enable --now "+TimerFile)
	}
	return out
}
