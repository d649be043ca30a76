package snapshot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
)

func testConn(srv *testetcd.Server) etcdconn.Conn {
	return etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
}

// TestJobRunWritesTheSchedule: a passing test writes the schedule files it was asked for,
// mode 0600, and a later test never overwrites one that was edited since.
func TestJobRunWritesTheSchedule(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 100, 100)
	dest := filepath.Join(t.TempDir(), "backups")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run := func(name string) (*Report, error) {
		t.Helper()
		j, err := NewJob(testConn(srv), nil, Request{Dest: dest, Name: name, Schedule: "both", Keep: 3, Write: true})
		if err != nil {
			t.Fatal(err)
		}
		return j.Run(ctx, nil)
	}
	rep, err := run("snap")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verification == nil || !rep.Verification.OK || rep.Schedule == nil {
		t.Fatalf("report lacks a passing verification or the schedule: %+v", rep)
	}
	want := []string{filepath.Join(dest, CronJobFile), filepath.Join(dest, ServiceFile), filepath.Join(dest, TimerFile)}
	if !slices.Equal(rep.ScheduleWritten, want) {
		t.Fatalf("written %v, want %v", rep.ScheduleWritten, want)
	}
	for _, f := range want {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, want a 0600 file", f, err)
		}
	}
	edited := "# mine\n"
	if err := os.WriteFile(want[0], []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = run("snap2")
	if !errors.Is(err, ErrScheduleExists) || rep.Error != err.Error() {
		t.Fatalf("err %v (report says %q): want ErrScheduleExists", err, rep.Error)
	}
	if data, _ := os.ReadFile(want[0]); string(data) != edited {
		t.Fatalf("the edited %s was overwritten", want[0])
	}
}

// TestJobRunTimeout: running out of the request's timeout is said as ErrTimedOut.
func TestJobRunTimeout(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	dest := filepath.Join(t.TempDir(), "backups")
	j, err := NewJob(testConn(srv), nil, Request{Dest: dest, Timeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := j.Run(context.Background(), nil)
	if !errors.Is(err, ErrTimedOut) || rep == nil || rep.Error != err.Error() {
		t.Fatalf("err %v, report %+v: want ErrTimedOut in both", err, rep)
	}
	assertContains(t, err, "did not finish within 1ns")
}

// TestJobFailsEarly: a missing TLS file fails NewJob, and an endpoint where nothing
// listens fails Run's connection check before the destination is touched.
func TestJobFailsEarly(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "backups")
	missing := filepath.Join(t.TempDir(), "ca.crt")
	if _, err := NewJob(etcdconn.FromFlags([]string{"https://127.0.0.1:1"}, missing, "", ""), nil, Request{Dest: dest}); err == nil {
		t.Fatal("NewJob accepted a missing CA file")
	}
	tls := testetcd.NewTLS(t, t.TempDir())
	ep := "https://127.0.0.1:" + strconv.Itoa(testetcd.FreePort(t))
	j, err := NewJob(etcdconn.FromFlags([]string{ep}, tls.CA, tls.ClientCert, tls.ClientKey), nil, Request{Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := j.Run(context.Background(), nil)
	if err == nil || rep == nil || rep.Error != err.Error() || rep.Dest != dest {
		t.Fatalf("err %v, report %+v: want the connection error in both", err, rep)
	}
	assertContains(t, err, ep)
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("the destination was touched: %v", err)
	}
}
