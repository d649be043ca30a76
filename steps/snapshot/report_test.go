package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
)

func TestTestReportJSON(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 500, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dest := filepath.Join(t.TempDir(), "backups")
	r, err := Test(ctx, TestOptions{Client: srv.ClientConfig(t), Dest: dest, DataDir: srv.DataDir, Name: "snap",
		Schedule: &ScheduleOptions{CACert: "/pki/ca.crt", Cert: "/pki/c.crt", Key: "/pki/c.key", Image: "registry.k8s.io/etcd:3.5.21-0"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	v := back["verification"].(map[string]any)
	if v["ok"] != true || v["totalKeys"].(float64) != 500 || len(back["checks"].([]any)) != 5 || back["error"] != nil {
		t.Fatalf("report:\n%s", b)
	}
	if !strings.Contains(r.Schedule.CronJob, srv.Endpoint) || !strings.Contains(r.Schedule.SystemdService, dest) {
		t.Fatalf("schedule not filled from the test's endpoint and dest:\n%s", r.Schedule.CronJob)
	}

	// A destination inside the data dir stops the test before anything is written.
	bad := filepath.Join(srv.DataDir, "backups")
	r, err = Test(ctx, TestOptions{Client: srv.ClientConfig(t), Dest: bad, DataDir: srv.DataDir}, nil)
	if !errors.Is(err, ErrDestination) || r.Save != nil || !strings.Contains(r.Error, "inside etcd's data dir") {
		t.Fatalf("err %v, report %+v", err, r)
	}
	assertEmpty(t, bad)
}
