package view

import (
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
	for _, w := range rep.ScheduleWritten {
		add("schedule file", w)
	}
	return fs
}

// SnapshotChecks are a test's destination checks ("dest"), the save ("save") and the
// verification steps ("verify"), each with its timing; nil when rep is nil.
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
