package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGuideMistakeBriefInTmux: in the guide-mistake scenario the wizard names the
// scenario, and "?" shows the brief headed by etcd's own refusal of the guide's flag.
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
	screen := s.waitFor("etcd's own last words: flag provided but not defined: -encryption-provider-config", "?/esc close the brief")
	checkGolden(t, "brief", screen, root)

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
