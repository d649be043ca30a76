package snapshot

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

func TestSaveSchedule(t *testing.T) {
	o := SaveScheduleOptions{ScheduleOptions: scheduleOptions(""), Args: []string{
		"--dest", "s3://backups/etcd/prod", "--encrypt-to", "age1qqqqexamplepublickey", "--keep", "7", "--s3-endpoint", "https://minio.example:9000"}}
	cron, svc, timer, env := SaveSchedule(o)
	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict([]byte(cron), &cj); err != nil {
		t.Fatalf("not a strict batch/v1 CronJob: %v\n%s", err, cron)
	}
	c := cj.Spec.JobTemplate.Spec.Template.Spec.Containers[0]
	want := append([]string{"/usr/local/bin/etcd-harden", "snapshot", "save"}, o.Args...)
	if !slices.Equal(c.Command, want) || len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef.Name != "etcd-snapshot-s3" {
		t.Fatalf("container: %+v", c)
	}
	for _, e := range c.Env {
		if strings.HasPrefix(e.Name, "AWS_") {
			t.Fatalf("the CronJob carries %s itself; it must come from the Secret", e.Name)
		}
	}
	if !strings.Contains(svc, "EnvironmentFile=/etc/etcd-harden/s3.env") ||
		!strings.Contains(svc, `ExecStart="/usr/local/bin/etcd-harden" "snapshot" "save" "--dest" "s3://backups/etcd/prod" "--encrypt-to" "age1qqqqexamplepublickey"`) {
		t.Fatalf("service:\n%s", svc)
	}
	if !strings.Contains(timer, "OnCalendar=") {
		t.Fatalf("timer:\n%s", timer)
	}
	for _, line := range strings.Split(env, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") && v != "" {
			t.Fatalf("the env file template holds a value: %q", line)
		}
	}
	if !strings.Contains(env, "AWS_SECRET_ACCESS_KEY=\n") || !strings.Contains(env, "chmod 600") {
		t.Fatalf("env file:\n%s", env)
	}
}

// TestSaveScheduleLocalFolder: sealed snapshots kept in a host folder are taken by
// `etcd-harden snapshot save --encrypt-to …` (etcdctl would leave them in the clear); the
// CronJob mounts the folder, and nothing reads S3 credentials.
func TestSaveScheduleLocalFolder(t *testing.T) {
	dest := `/var/backups/it's 100% "etcd"`
	o := SaveScheduleOptions{ScheduleOptions: scheduleOptions(dest), Args: []string{"--dest", dest, "--encrypt-to", "age1qqqqexamplepublickey", "--keep", "3"}}
	cron, svc, _, env := SaveSchedule(o)
	if env != "" {
		t.Fatalf("a local folder got an S3 environment file:\n%s", env)
	}
	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict([]byte(cron), &cj); err != nil {
		t.Fatalf("not a strict batch/v1 CronJob: %v\n%s", err, cron)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.Containers[0]
	if want := append([]string{"/usr/local/bin/etcd-harden", "snapshot", "save"}, o.Args...); !slices.Equal(c.Command, want) {
		t.Fatalf("command %q, want %q", c.Command, want)
	}
	if len(c.EnvFrom) != 0 || strings.Contains(cron, "s3.env") || strings.Contains(cron, "etcdctl") {
		t.Fatalf("a local folder's CronJob reads S3 credentials or runs etcdctl:\n%s", cron)
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.HostPath != nil && v.HostPath.Path == dest && m.MountPath == dest {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Fatalf("the CronJob does not mount %s:\n%s", dest, cron)
	}
	for _, want := range []string{`ExecStart="/usr/local/bin/etcd-harden" "snapshot" "save" "--dest" "/var/backups/it's 100%% \"etcd\"" "--encrypt-to" "age1qqqqexamplepublickey"`,
		"sealed by etcd-harden into"} {
		if !strings.Contains(svc, want) {
			t.Errorf("service lacks %q:\n%s", want, svc)
		}
	}
	if strings.Contains(svc, "EnvironmentFile") || strings.Contains(svc, "etcdctl") || strings.Contains(svc, "S3") {
		t.Errorf("a local folder's service reads S3 credentials or runs etcdctl:\n%s", svc)
	}
}

// TestJobScheduleRunsSaveWhenSealed: a test with SaveArgs suggests `etcd-harden snapshot
// save` with them, not etcdctl.
func TestJobScheduleRunsSaveWhenSealed(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	dest := t.TempDir()
	conn := etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
	args := []string{"--dest", dest, "--encrypt-to", "age1qqqqexamplepublickey", "--keep", "4"}
	job, err := NewJob(conn, nil, Request{Dest: dest, Schedule: "both", Keep: 4, Write: true, SaveArgs: args, Rehearse: RehearseNever})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := job.Run(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.ScheduleWritten) != 3 {
		t.Fatalf("written %v", rep.ScheduleWritten)
	}
	svc, err := os.ReadFile(filepath.Join(dest, ServiceFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svc), `"snapshot" "save" "--dest" "`+dest+`" "--encrypt-to" "age1qqqqexamplepublickey" "--keep" "4"`) || strings.Contains(string(svc), "etcdctl") {
		t.Fatalf("service:\n%s", svc)
	}
}
