package view

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// SnapshotFacts are a test's inputs and what it found out about the snapshot: endpoint,
// destination, file, size, timing, speed, versions, revision, key count, and the schedule
// files written. rep may be nil (the test did not start).
func SnapshotFacts(rep *snapshot.Report, endpoint, dest string) []render.Fact {
	var fs []render.Fact
	add := func(k, v string) { fs = append(fs, render.Fact{Key: k, Value: v}) }
	if endpoint != "" {
		add("endpoint", endpoint)
	}
	if dest != "" {
		add("destination", dest)
	}
	if rep == nil {
		return fs
	}
	if v := rep.Verification; v != nil && rep.Save == nil { // a file verified on its own
		add("snapshot", v.Path)
		add("size", snapshot.HumanBytes(v.Size))
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
	if r, ok := strings.CutPrefix(rep.Rehearsal, "not run: "); ok {
		add("restore rehearsal", "not run: "+r)
	}
	for _, w := range rep.ScheduleWritten {
		add("schedule file", w)
	}
	return fs
}

// SnapshotChecks are a test's destination checks ("dest"), the save ("save") and the
// verification ("verify"): first the comparison with the member's KV hash, then the
// steps, each with its timing; nil when rep is nil.
func SnapshotChecks(rep *snapshot.Report) []render.Check {
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
	// The content comparison comes first: it is the one that says the snapshot holds
	// the member's data.
	if c := rep.Content; c != nil {
		cs = append(cs, render.Check{ID: "verify", Title: snapshot.VerifyContent, Status: render.Status(c.Status),
			Detail: c.Message + " · " + roundDuration(c.Took)})
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

// ScheduleBlocks are the schedule files of which ("cronjob", "systemd" or "both") as text
// to copy, each under a line saying where it was written (rep.ScheduleWritten) or what
// to do with it. nil when rep has no schedule.
func ScheduleBlocks(r render.Renderer, width int, rep *snapshot.Report, which string) []string {
	if rep == nil || rep.Schedule == nil {
		return nil
	}
	files, written := rep.Schedule, rep.ScheduleWritten
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
		block("CronJob "+snapshot.CronJobFile, snapshot.CronJobFile, files.CronJob, "save it as "+snapshot.CronJobFile+", review it, then kubectl apply -f "+snapshot.CronJobFile)
	}
	if which == "systemd" || which == "both" {
		block("systemd "+snapshot.ServiceFile, snapshot.ServiceFile, files.SystemdService, "save it as /etc/systemd/system/"+snapshot.ServiceFile)
		block("systemd "+snapshot.TimerFile, snapshot.TimerFile, files.SystemdTimer, "save it as /etc/systemd/system/"+snapshot.TimerFile+", then systemctl enable --now "+snapshot.TimerFile)
	}
	return out
}

// SnapshotProgress reports a snapshot's progress on pr, the same from `snapshot test` and
// from the wizard's backup step: live, every report redraws the line; in a log, a line
// each time another tenth is done (every few seconds when etcd did not say the size).
// Both then say once that the save is done and the verification runs.
func SnapshotProgress(pr *render.Progress) func(snapshot.Progress) {
	l := &progressLog{pr: pr, last: -1}
	return l.report
}

// progressLog remembers what the log said last.
type progressLog struct {
	pr       *render.Progress
	last     int // last tenth written
	lastTime time.Duration
	verified bool
}

// unknownEvery spaces the lines of a snapshot of unknown size.
const unknownEvery = 5 * time.Second

func (l *progressLog) report(p snapshot.Progress) {
	if l.pr.Live() || l.due(p) {
		l.pr.Say(snapshotLine(p))
	}
	if p.Total > 0 && p.Bytes >= p.Total && !l.verified {
		l.verified = true
		l.pr.Say("snapshot: saved; verifying (bbolt consistency and status in one read, then the member's KV hash)")
	}
}

// due says whether the log takes a line for p.
func (l *progressLog) due(p snapshot.Progress) bool {
	if p.Total <= 0 {
		if p.Elapsed-l.lastTime >= unknownEvery || l.last < 0 {
			l.last, l.lastTime = 0, p.Elapsed
			return true
		}
		return false
	}
	if tenth := snapshotPercent(p) / 10; tenth > l.last {
		l.last = tenth
		return true
	}
	return false
}

// snapshotLine reads "snapshot: 45% 120 MiB/266 MiB 80 MiB/s about 2s left", with what
// is known of it.
func snapshotLine(p snapshot.Progress) string {
	line := "snapshot: " + snapshot.HumanBytes(p.Bytes)
	if p.Total > 0 {
		line = fmt.Sprintf("snapshot: %d%% %s/%s", snapshotPercent(p), snapshot.HumanBytes(p.Bytes), snapshot.HumanBytes(p.Total))
	}
	if p.Speed > 0 {
		line += " " + snapshot.HumanBytes(int64(p.Speed)) + "/s"
	}
	if p.ETA > 0 {
		line += fmt.Sprintf(" about %s left", p.ETA.Round(time.Second))
	}
	return line
}

func snapshotPercent(p snapshot.Progress) int {
	return int(min(100*p.Bytes/p.Total, 100))
}
