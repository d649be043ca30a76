package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
)

// nodeAddr matches a cluster lab member's address and port (127.0.0.11:PORT …).
var nodeAddr = regexp.MustCompile(`127\.0\.0\.1\d:\d{4,5}`)

// TestClusterWizardInTmux walks the wizard on node-1 of a three-member lab in a real
// terminal: the plan is the one-node plan, but its apply does phase 1 only (node-1's
// certificates, https beside http) and the summary shows the rollout as a table and
// where to go next.
func TestClusterWizardInTmux(t *testing.T) {
	requireTools(t)
	requireTmux(t)
	bin := binary(t)
	root := labRoot(t)
	tmp := t.TempDir()
	exitFile := filepath.Join(tmp, "exit")
	command := fmt.Sprintf("env -u NO_COLOR XDG_RUNTIME_DIR=%s %s lab --members 3 --dir %s --keep; echo $? > %s; sleep 60", tmp, bin, root, exitFile)
	s := startTmux(t, command)
	norm := func(screen string) string { return nodeAddr.ReplaceAllString(screen, "127.0.0.1X:00000") }

	s.waitFor("Step 1 of 6", "enter next")
	s.send("Enter")
	s.waitFor("Step 2 of 6", "┃ Provider of the new key", "> secretbox")
	for _, field := range []string{"┃ Resources to encrypt", "┃ Other resources", "┃ Key name", "┃ Reload the config automatically?", "r reveal key"} {
		s.send("Enter")
		s.waitFor(field)
	}
	s.send("Enter")
	s.waitFor("Step 3 of 6", "┃ Certificates", "> auto")
	for _, field := range []string{"┃ Key type of new keys", "┃ Node name", "┃ Advertise IP", "┃ Change a path?"} {
		s.send("Enter")
		s.waitFor(field)
	}
	s.send("Enter")
	s.waitFor("As the plan leaves them:", "apiserver-etcd-client.crt (generated)")
	s.send("Enter")
	s.waitFor("Step 4 of 6", "a apply")
	s.send("a")
	s.waitFor("Apply 13 file changes", "Not now")
	s.send("Left")
	s.send("Enter")
	screen := s.waitFor("applied  13 files", "backup ", "undo ")
	checkGolden(t, "01-review-applied-phase-1", norm(screen), root)

	s.send("Enter")
	s.waitFor("Step 5 of 6", "┃ Where should snapshots go?")
	s.send("Enter")
	s.waitFor("┃ Show a schedule for regular snapshots?", "> No")
	s.send("Enter")
	s.waitFor("storage version", "enter next")
	s.send("Enter")
	screen = s.waitFor("Step 6 of 6", "This node is hardened as far as the cluster allows now")
	checkGolden(t, "02-summary-rollout", norm(screen), root)
	s.send("NPage", "NPage", "NPage")
	screen = s.waitFor("1 (https for clients beside http)", "up (this node)", "node-3")
	checkGolden(t, "03-summary-rollout-table", norm(screen), root)

	s.send("Enter")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("etcd-harden lab --members 3 exited %s; the screen:\n%s", code, s.capture())
	}
	removeRoot(t, root)
}
