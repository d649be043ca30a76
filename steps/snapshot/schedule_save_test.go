package snapshot

import (
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
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
