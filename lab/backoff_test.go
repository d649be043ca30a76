package lab

import (
	"strings"
	"testing"
	"time"
)

// TestCrashBackoff: an etcd that keeps dying waits longer each time, up to max, and an
// etcd that ran long enough starts again at base.
func TestCrashBackoff(t *testing.T) {
	b := crashBackoff{base: time.Second, max: 4 * time.Second, resetAfter: time.Minute}
	var got []time.Duration
	for range 4 {
		got = append(got, b.next(time.Now()))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("delays %v, want %v", got, want)
		}
	}
	if d := b.next(time.Now().Add(-2 * time.Minute)); d != time.Second {
		t.Errorf("after running 2m: %s, want the base again", d)
	}
}

// TestEtcdNow: what the brief says of etcd, as its kubelet sees it.
func TestEtcdNow(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	refusal := "flag provided but not defined: -encryption-provider-config"
	fromLog := func() string { return "from the log" }
	for _, tc := range []struct {
		name     string
		pid      int
		pod      PodStatus
		want     string
		wantLine bool // the line about the back-off
	}{
		{"running", 42, PodStatus{}, "The lab's etcd now: running (pid 42), answering on http://127.0.0.1:2379.", false},
		{"running after restarts", 42, PodStatus{Restarts: 3, LastError: "signal: killed"},
			"The lab's etcd now: running (pid 42), answering on http://127.0.0.1:2379.\nIt was restarted 3 times since etcd.yaml last changed; its last error: signal: killed", false},
		{"crash loop", 0, PodStatus{Restarts: 1, LastError: refusal, NextStart: now.Add(1400 * time.Millisecond), Backoff: 2 * time.Second},
			"The lab's etcd now: CrashLoopBackOff (restarted once, next start in 1s).\netcd's own last words: " + refusal, true},
		{"crash loop, under a second", 0, PodStatus{LastError: refusal, NextStart: now.Add(420 * time.Millisecond)},
			"The lab's etcd now: CrashLoopBackOff (restarted 0 times, next start in 400ms).\netcd's own last words: " + refusal, true},
		{"restart due", 0, PodStatus{Restarts: 2, LastError: refusal, NextStart: now.Add(-time.Millisecond)},
			"The lab's etcd now: CrashLoopBackOff (restarted 2 times, next start now).", true},
		{"starting again", 0, PodStatus{Restarts: 2, LastError: refusal}, "The lab's etcd now: starting again (restarted 2 times).", true},
		{"waits for etcd.yaml", 0, PodStatus{},
			"The lab's etcd now: not running; the lab starts it again when etcd.yaml changes.\netcd's own last words: from the log", false},
	} {
		got := etcdNow(tc.pid, "http://127.0.0.1:2379", tc.pod, now, fromLog)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s:\n%s\nwant it to start with\n%s", tc.name, got, tc.want)
		}
		if line := "back-off that doubles up to 10s, at once when etcd.yaml changes."; strings.Contains(got, line) != tc.wantLine {
			t.Errorf("%s: %q; the back-off line shown: %v, want %v", tc.name, got, !tc.wantLine, tc.wantLine)
		}
	}
}
