package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestGuideMistakeBriefInTmux: in the guide-mistake scenario the wizard names the
// scenario, and "?" shows the brief headed by the lab's kubelet restarting etcd
// (CrashLoopBackOff) with etcd's own refusal of the guide's flag.
func TestGuideMistakeBriefInTmux(t *testing.T) {
	requireTools(t)
	requireTmux(t)
	bin := binary(t)
	root := labRoot(t)
	tmp := t.TempDir()
	exitFile := filepath.Join(tmp, "exit")
	command := fmt.Sprintf("env -u NO_COLOR XDG_RUNTIME_DIR=%s %s lab --scenario guide-mistake --dir %s; echo $? > %s; sleep 60", tmp, bin, root, exitFile)
	s := startTmux(t, command)

	s.waitFor("Step 1 of 6", "? brief: guide-mistake")
	s.send("?")
	s.waitFor("etcd's own last words: flag provided but not defined: -encryption-provider-config", "?/esc close the brief")
	// The open brief follows the crash loop: wait for the lab's kubelet to restart etcd
	// twice (0.5 s, then 1 s of back-off).
	restarts := regexp.MustCompile(`CrashLoopBackOff \(restarted (\d+) times`)
	var screen string
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(100 * time.Millisecond) {
		screen = s.capture()
		if m := restarts.FindStringSubmatch(screen); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the brief does not show etcd restarted twice; it shows:\n%s", waitTimeout, screen)
		}
	}
	checkGolden(t, "brief", s.settle(screen), root)

	s.send("?")
	s.waitFor("Step 1 of 6", "? brief: guide-mistake")
	s.send("q")
	s.waitFor("Quit the wizard?")
	s.send("y")
	for range 100 {
		if data, err := os.ReadFile(exitFile); err == nil {
			if code := strings.TrimSpace(string(data)); code != "130" {
				t.Errorf("lab exit code %s, want 130 (quit)", code)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the lab did not exit; the screen shows:\n%s", s.capture())
}
