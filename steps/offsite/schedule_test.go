package offsite

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/testminio"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// TestJobWritesSchedule: with Write, a passing offsite run writes the units, the CronJob
// and the environment file's template (mode 0600, every value empty) into ScheduleDir.
// Run again after the operator filled the environment file in, it keeps that file as it
// is and the units unchanged; no secret is in any of them.
func TestJobWritesSchedule(t *testing.T) {
	conn := etcdWithKeys(t, 10)
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	_, rs := identity(t)
	dir := filepath.Join(t.TempDir(), "etc", "etcd-harden")
	req := Request{Dest: "s3://" + bucket + "/etcd", Store: Config{Endpoint: srv.Endpoint, Creds: srv.RootCreds(), NoInstanceRole: true, MaxRetries: 1},
		Staging: t.TempDir(), Recipients: rs, Schedule: "both", Keep: 4, Write: true, ScheduleDir: dir, Rehearse: snapshot.RehearseNever}
	job, err := NewJob(conn, nil, req)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := job.Run(ctx(t), Observer{})
	if err != nil {
		t.Fatal(err)
	}
	names := []string{snapshot.CronJobFile, snapshot.ServiceFile, snapshot.TimerFile, EnvFileName}
	var want []string
	for _, n := range names {
		want = append(want, filepath.Join(dir, n))
	}
	if !slices.Equal(rep.Schedule.Written, want) || rep.Schedule.EnvFileKept != "" {
		t.Fatalf("written %v, kept %q; want %v", rep.Schedule.Written, rep.Schedule.EnvFileKept, want)
	}
	for _, p := range want {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", p, err, fi.Mode())
		}
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), srv.SecretKey) || strings.Contains(string(data), srv.AccessKey) {
			t.Fatalf("%s holds the store's keys", p)
		}
	}
	env, _ := os.ReadFile(filepath.Join(dir, EnvFileName))
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") && v != "" {
			t.Fatalf("the environment file holds a value: %q", line)
		}
	}
	svc, _ := os.ReadFile(filepath.Join(dir, snapshot.ServiceFile))
	if !strings.Contains(string(svc), "EnvironmentFile=/etc/etcd-harden/s3.env") || !strings.Contains(string(svc), `"--dest" "s3://`+bucket+`/etcd"`) {
		t.Fatalf("service:\n%s", svc)
	}

	// The operator fills the environment file in; the next run leaves it alone.
	filled := "AWS_ACCESS_KEY_ID=AKIAOPERATOR\nAWS_SECRET_ACCESS_KEY=operator-secret\n"
	envPath := filepath.Join(dir, EnvFileName)
	if err := os.WriteFile(envPath, []byte(filled), 0o600); err != nil {
		t.Fatal(err)
	}
	req.Name = "etcd-snapshot-20260101T000002Z" // the first run's name may be this second's
	job, err = NewJob(conn, nil, req)
	if err != nil {
		t.Fatal(err)
	}
	rep, err = job.Run(ctx(t), Observer{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(envPath); string(got) != filled || rep.Schedule.EnvFileKept != envPath || len(rep.Schedule.Written) != 3 {
		t.Fatalf("second run: env %q, kept %q, written %v", got, rep.Schedule.EnvFileKept, rep.Schedule.Written)
	}

	// An edited unit is not overwritten: the run fails, naming it, after the upload.
	if err := os.WriteFile(filepath.Join(dir, snapshot.TimerFile), []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	req.Name = "etcd-snapshot-20260101T000003Z"
	job, _ = NewJob(conn, nil, req)
	if _, err := job.Run(ctx(t), Observer{}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, snapshot.TimerFile)+" exists with other content") {
		t.Fatalf("edited timer: %v", err)
	}

	req.ScheduleDir = ""
	if _, err := NewJob(conn, nil, req); err == nil || !strings.Contains(err.Error(), "no folder to write the schedule files into") {
		t.Fatalf("no folder: %v", err)
	}
}

// TestSaveFolderSealedSchedule: sealed snapshots in a local folder get a schedule that runs
// `etcd-harden snapshot save --dest FOLDER --encrypt-to …`, written into the folder; the
// test snapshot is sealed there and its plaintext removed.
func TestSaveFolderSealedSchedule(t *testing.T) {
	conn := etcdWithKeys(t, 10)
	_, rs := identity(t)
	dest := filepath.Join(t.TempDir(), "backups")
	rep, err := SaveFolder(ctx(t), conn, nil, FolderRequest{Dest: dest, Name: "etcd-snapshot-20260101T000000Z", Recipients: rs,
		Schedule: "both", ScheduleKeep: 5, Write: true, Rehearse: snapshot.RehearseNever})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sealed == nil || len(rep.Local.ScheduleWritten) != 3 {
		t.Fatalf("report %+v", rep)
	}
	entries, _ := os.ReadDir(dest)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{"etcd-snapshot-20260101T000000Z.db.age", snapshot.CronJobFile, snapshot.ServiceFile, snapshot.TimerFile}; !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}
	svc, _ := os.ReadFile(filepath.Join(dest, snapshot.ServiceFile))
	wantExec := `"snapshot" "save" "--dest" "` + dest + `" "--encrypt-to" "` + rs.Keys()[0] + `" "--keep" "5"`
	if !strings.Contains(string(svc), wantExec) || strings.Contains(string(svc), "etcdctl") || strings.Contains(string(svc), "EnvironmentFile") {
		t.Fatalf("service lacks %s:\n%s", wantExec, svc)
	}
}
