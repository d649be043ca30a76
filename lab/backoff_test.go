package lab

import (
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
