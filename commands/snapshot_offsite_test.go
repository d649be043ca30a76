package commands

import (
	"runtime/debug"
	"testing"
)

// TestScheduledMemory: `snapshot save` collects garbage at 50 % growth unless GOGC says
// otherwise.
func TestScheduledMemory(t *testing.T) {
	old := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(old) })
	t.Setenv("GOGC", "")
	scheduledMemory()
	if got := debug.SetGCPercent(100); got != scheduledGC {
		t.Errorf("GC percent %d, want %d", got, scheduledGC)
	}
	t.Setenv("GOGC", "100")
	scheduledMemory()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=100 the GC percent is %d", got)
	}
}
