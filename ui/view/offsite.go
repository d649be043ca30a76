package view

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// OffsiteFacts are an offsite run's inputs and results: the store, the credentials'
// source (never a secret), the object, its size, the speed, the recipients, and what
// --keep removed. rep may be nil (the run did not start).
func OffsiteFacts(rep *offsite.Report, store *offsite.Store, endpoint string) []render.Fact {
	var fs []render.Fact
	add := func(k, v string) { fs = append(fs, render.Fact{Key: k, Value: v}) }
	if endpoint != "" {
		add("etcd endpoint", endpoint)
	}
	if store != nil {
		add("destination", store.Target().String())
		add("S3 endpoint", store.Endpoint())
		add("credentials", store.Source+", key ID "+store.AccessKey)
	}
	if rep == nil {
		return fs
	}
	// Without a store (a folder), SnapshotFacts shows the save beside these.
	if l := rep.Local; l != nil && l.Save != nil && store != nil {
		add("snapshot", snapshot.HumanBytes(l.Save.Size)+" · saved in "+roundDuration(l.Save.Duration))
		if v := l.Verification; v != nil {
			add("revision", strconv.FormatInt(v.Revision, 10))
			add("keys", strconv.Itoa(v.TotalKeys))
		}
	}
	if s := rep.Sealed; s != nil {
		var short []string
		for _, k := range s.Recipients {
			short = append(short, seal.Short(k))
		}
		add("sealed to", strings.Join(short, ", "))
		if store == nil {
			add("sealed snapshot", s.Path+" (the plaintext was removed)")
		}
	}
	if u := rep.Upload; u != nil {
		add("object", u.URL)
		add("object size", snapshot.HumanBytes(u.Size))
		add("upload", roundDuration(u.Duration)+" · "+snapshot.HumanBytes(int64(u.Speed))+"/s")
		if u.VersionID != "" {
			add("version", u.VersionID)
		}
	}
	if p := rep.Pruned; p != nil {
		add("kept", fmt.Sprintf("%d snapshot(s) of this cluster", len(p.Kept)))
		for _, k := range p.Removed {
			add("removed", k)
		}
		for _, k := range p.Retained {
			add("retained by object lock", k)
		}
	}
	for _, k := range rep.Aborted {
		add("aborted stale upload", k)
	}
	return fs
}

// OffsiteChecks are the S3 checks ("s3"), the local save and verification as
// SnapshotChecks shows them, the sealing ("seal"), the upload and the read-back ("s3").
func OffsiteChecks(rep *offsite.Report) []render.Check {
	if rep == nil {
		return nil
	}
	var cs []render.Check
	for _, c := range rep.Checks {
		cs = append(cs, render.Check{ID: "s3", Title: c.Name, Status: render.Status(c.Status), Detail: c.Message, Fix: c.Fix})
	}
	local := SnapshotChecks(rep.Local)
	if offsite.IsURL(rep.Dest) {
		// The local folder of an s3:// run is the staging folder, not the destination.
		for i := range local {
			if local[i].ID == "dest" {
				local[i].ID = "staging"
			}
		}
	}
	cs = append(cs, local...)
	if s := rep.Sealed; s != nil {
		cs = append(cs, render.Check{ID: "seal", Title: "sealed with age", Status: render.Pass,
			Detail: fmt.Sprintf("%s to %d recipient(s) · sha256 %.16s…", snapshot.HumanBytes(s.Size), len(s.Recipients), s.SHA256)})
	}
	if u := rep.Upload; u != nil {
		detail := snapshot.HumanBytes(u.Size) + " to " + u.URL
		if u.Checksum != "" {
			detail += " · S3 checksum SHA256 " + u.Checksum
		}
		cs = append(cs, render.Check{ID: "s3", Title: "uploaded", Status: render.Pass, Detail: detail + " · " + roundDuration(u.Duration)})
	}
	if rb := rep.ReadBack; rb != nil {
		detail := fmt.Sprintf("read back %s, sha256 %.16s… as sent", snapshot.HumanBytes(rb.Size), rb.SHA256)
		if rb.Decrypted {
			detail += "; decrypted with the identity: identical to the verified snapshot"
		}
		cs = append(cs, render.Check{ID: "s3", Title: "read back", Status: render.Pass, Detail: detail + " · " + roundDuration(rb.Duration)})
	}
	return cs
}

// UploadProgress reports an upload on pr: live, a redrawn line; in a log, each tenth.
func UploadProgress(pr *render.Progress) func(sent, total int64) {
	last := -1
	return func(sent, total int64) {
		pct := 0
		if total > 0 {
			pct = int(sent * 100 / total)
		}
		line := fmt.Sprintf("uploading %s of %s (%d%%)", snapshot.HumanBytes(sent), snapshot.HumanBytes(total), pct)
		if pr.Live() {
			pr.Say(line)
			return
		}
		if pct/10 != last {
			last = pct / 10
			pr.Say(line)
		}
	}
}

// OffsiteScheduleBlocks are the files of an offsite schedule (which: "cronjob", "systemd"
// or "both") as text to copy, the environment file first; nil when rep has none.
func OffsiteScheduleBlocks(r render.Renderer, width int, rep *offsite.Report, which string) []string {
	if rep == nil || rep.Schedule == nil {
		return nil
	}
	s := rep.Schedule
	var out []string
	// block shows a file to copy, or where it was written.
	block := func(title, name, use, text string) {
		for _, w := range s.Written {
			if filepath.Base(w) == name {
				use = "written to " + w + "; " + use
			}
		}
		out = append(out, r.Facts([]render.Fact{{Key: title, Value: use}}, width)+"\n\n"+strings.TrimRight(text, "\n"))
	}
	if s.EnvFileKept != "" {
		// The operator's file, perhaps with the keys in it: named, never shown.
		out = append(out, r.Facts([]render.Fact{{Key: "credentials " + s.EnvFilePath,
			Value: s.EnvFileKept + " is there already and was left as it is (not read): check that it has mode 0600 and the keys"}}, width))
	} else {
		use := "save it with mode 0600 (install -m 600 /dev/null " + s.EnvFilePath + "), then fill in the keys"
		if slices.ContainsFunc(s.Written, func(w string) bool { return filepath.Base(w) == offsite.EnvFileName }) {
			use = "a template with mode 0600 and empty values: fill in the keys (at " + s.EnvFilePath + " on the node)"
		}
		block("credentials "+s.EnvFilePath, offsite.EnvFileName, use, s.EnvFile)
	}
	if which == "cronjob" || which == "both" {
		block("CronJob "+snapshot.CronJobFile, snapshot.CronJobFile, "make the Secret the file names, then kubectl apply -f "+snapshot.CronJobFile, s.CronJob)
	}
	if which == "systemd" || which == "both" {
		block("systemd "+snapshot.ServiceFile, snapshot.ServiceFile, "save it as /etc/systemd/system/"+snapshot.ServiceFile, s.SystemdService)
		block("systemd "+snapshot.TimerFile, snapshot.TimerFile, "save it as /etc/systemd/system/"+snapshot.TimerFile+", then systemctl enable --now "+snapshot.TimerFile, s.SystemdTimer)
	}
	return out
}
