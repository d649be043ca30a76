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
// where to go next. Then, from a second terminal, the wizard on node-2 takes node-1's
// bundle at the cluster question and applies phase 1 there.
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

	// node-1: the cluster question, left empty (the first node makes the bundle).
	s.waitFor("Step 1 of 6", "┃ The first node's cluster bundle")
	s.send("Enter")
	s.waitFor("cluster bundle", "none: this is the first node", "enter next")
	s.send("Enter")
	walkToApply(s)
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

	// node-2, from another terminal while the lab runs: the wizard takes node-1's bundle
	// at the cluster question and applies phase 1 there.
	exit2 := filepath.Join(tmp, "exit-node-2")
	s2 := startTmux(t, fmt.Sprintf("env -u NO_COLOR XDG_RUNTIME_DIR=%s %s --root %s; echo $? > %s; sleep 60", tmp, bin, filepath.Join(root, "node-2"), exit2))
	s2.waitFor("Step 1 of 6", "┃ The first node's cluster bundle")
	s2.send(filepath.Join(root, "node-1/var/lib/etcd-harden/cluster-plan/bundle"))
	s2.send("Enter")
	screen = s2.waitFor("cluster bundle", "cluster-plan/bundle (the", "enter next")
	checkGolden(t, "04-node-2-preflight-bundle", norm(screen), root)
	s2.send("Enter")
	walkToApply(s2)
	s2.waitFor("Apply ", "Not now")
	s2.send("Left")
	s2.send("Enter")
	s2.waitFor("applied  ", "backup ", "undo ")
	s2.send("Enter")
	s2.waitFor("Step 5 of 6", "┃ Where should snapshots go?")
	s2.send("Enter")
	s2.waitFor("┃ Show a schedule for regular snapshots?", "> No")
	s2.send("Enter")
	s2.waitFor("storage version", "enter next")
	s2.send("Enter")
	s2.waitFor("Step 6 of 6", "This node is hardened as far as the cluster allows now", "uses the bundle in")
	s2.send("NPage", "NPage", "NPage")
	screen = s2.waitFor("node-1   1 (https for clients beside http)", "node-2   1 (https for clients beside http)    up (this node)", "node-3   0 (http)")
	checkGolden(t, "05-node-2-summary-rollout-table", norm(screen), root)
	s2.send("Enter")
	if code := waitExit(t, s2, exit2); code != "0" {
		t.Errorf("etcd-harden --root node-2 exited %s; the screen:\n%s", code, s2.capture())
	}

	s.send("Enter")
	if code := waitExit(t, s, exitFile); code != "0" {
		t.Errorf("etcd-harden lab --members 3 exited %s; the screen:\n%s", code, s.capture())
	}
	removeRoot(t, root)
}

// walkToApply takes the wizard from the encryption step to the review step's apply
// question with every default answer.
func walkToApply(s *tmuxSession) {
	s.t.Helper()
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
}
