package backup

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Answer keys of an offsite destination (backup.dest: s3://BUCKET/PREFIX).
const (
	// KeyEncryptTo are the public keys (age1…, ssh-ed25519 …) the snapshot is sealed to
	// before it leaves the node; a list. Required with an s3:// backup.dest (asked only
	// then); with a folder, the snapshots are sealed there and the schedule runs
	// `etcd-harden snapshot save --encrypt-to …`.
	KeyEncryptTo = "backup.encryptTo"
	// KeyS3Endpoint is the S3 endpoint URL; default $AWS_ENDPOINT_URL, else AWS S3.
	KeyS3Endpoint = "backup.s3Endpoint"
)

// CheckEncryptTo checks a backup.encryptTo answer: public keys, comma-separated.
func CheckEncryptTo(v string) error {
	_, err := parseRecipients(v)
	return err
}

// CheckS3Endpoint checks a backup.s3Endpoint answer: "" or an http(s) URL.
func CheckS3Endpoint(v string) error {
	if v == "" {
		return nil
	}
	if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return fmt.Errorf("give an http:// or https:// URL, e.g. https://s3.eu-west-1.amazonaws.com")
	}
	return nil
}

func parseRecipients(v string) (*seal.Recipients, error) {
	var keys []string
	for _, k := range strings.Split(v, ",") {
		if k = strings.TrimSpace(k); k != "" {
			keys = append(keys, k)
		}
	}
	return seal.ParseRecipients(keys, nil)
}

// offsiteRequest is the offsite run of the answers.
func offsiteRequest(s *step.Session, a answers, o Options) (offsite.Request, error) {
	rs, err := parseRecipients(a.encryptTo)
	if err != nil {
		return offsite.Request{}, fmt.Errorf("%s: %w", KeyEncryptTo, err)
	}
	return offsite.Request{
		Dest: a.dest, Store: offsite.Config{Endpoint: a.s3Endpoint},
		Staging: filepath.Join(s.Layout.Root, "var", "lib", "etcd-harden", "staging"), Name: o.Name,
		Recipients: rs, Timeout: o.Timeout, Schedule: a.schedule, Keep: a.keep, Rehearse: a.rehearse,
		Write: a.write, ScheduleDir: ScheduleDir(s),
	}, nil
}

// ScheduleDir is where backup.write puts the schedule files of an s3:// destination, with
// the template of the credentials file the units read (/etc/etcd-harden/s3.env).
func ScheduleDir(s *step.Session) string {
	return filepath.Join(s.Layout.Root, "etc", "etcd-harden")
}

// asSnapshotReport is an offsite or sealed run as a snapshot report, for the session
// (the summary): the S3 checks and the sealing, upload and read-back become checks beside
// the local test's. The step's own view shows the offsite report itself.
func asSnapshotReport(rep *offsite.Report) *snapshot.Report {
	out := &snapshot.Report{Dest: rep.Dest, Checks: append([]snapshot.Check(nil), rep.Checks...), Error: rep.Error}
	if l := rep.Local; l != nil {
		out.Save, out.Verification, out.Content = l.Save, l.Verification, l.Content
		out.Checks = append(out.Checks, l.Checks...)
	}
	pass := func(name, msg string) {
		out.Checks = append(out.Checks, snapshot.Check{Name: name, Status: snapshot.StatusPass, Message: msg})
	}
	if s := rep.Sealed; s != nil {
		pass("sealed", fmt.Sprintf("sealed with age to %d recipient(s): %s", len(s.Recipients), snapshot.HumanBytes(s.Size)))
	}
	if u := rep.Upload; u != nil {
		pass("uploaded", fmt.Sprintf("%s to %s in %s", snapshot.HumanBytes(u.Size), u.URL, u.Duration.Round(1e7)))
	}
	if rb := rep.ReadBack; rb != nil {
		pass("read back", fmt.Sprintf("read back %s, sha256 %.16s… as sent", snapshot.HumanBytes(rb.Size), rb.SHA256))
	}
	if s := rep.Schedule; s != nil {
		out.Schedule = &s.ScheduleFiles
		out.ScheduleWritten = s.Written
	} else if l := rep.Local; l != nil {
		out.Schedule, out.ScheduleWritten = l.Schedule, l.ScheduleWritten
	}
	return out
}

// sealedFolderRequest is a folder test whose snapshot is sealed to backup.encryptTo; its
// schedule runs `etcd-harden snapshot save --encrypt-to …`.
func sealedFolderRequest(a answers, o Options) (offsite.FolderRequest, error) {
	rs, err := parseRecipients(a.encryptTo)
	if err != nil {
		return offsite.FolderRequest{}, fmt.Errorf("%s: %w", KeyEncryptTo, err)
	}
	return offsite.FolderRequest{Dest: a.dest, Name: o.Name, Recipients: rs, Timeout: o.Timeout, Rehearse: a.rehearse,
		Schedule: a.schedule, ScheduleKeep: a.keep, Write: a.write}, nil
}

// newOffsiteJob resolves an offsite run for the step.
func newOffsiteJob(s *step.Session, conn etcdconn.Conn, a answers, o Options) (*offsite.Job, error) {
	req, err := offsiteRequest(s, a, o)
	if err != nil {
		return nil, err
	}
	return offsite.NewJob(conn, s.State, req)
}
