package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/clitest"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// applyPlanFiles applies the saved plan in dir to root as apply does, without the etcd
// health check (the root has no etcd); stopAt, when not "", fails the apply right after
// that file is written, as an apply killed part way leaves the node.
func applyPlanFiles(t *testing.T, dir, root, stopAt string) *plan.Backup {
	t.Helper()
	p, err := harden.ReadOut(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stopped")
	b, err := p.Apply(plan.ApplyOptions{AfterWrite: func(c *plan.Change) error {
		if c.Path == stopAt {
			return stop
		}
		return nil
	}})
	if stopAt == "" && err != nil || stopAt != "" && !errors.Is(err, stop) {
		t.Fatal(err)
	}
	return b
}

// TestApplyTwiceCLI: the same plan again says "Already applied" (exit 0, nothing
// written); after an apply that stopped part way, it names that apply and its backup
// (issue 11, weak case "the same apply --plan P run twice").
func TestApplyTwiceCLI(t *testing.T) {
	root := unhardenedRoot(t)
	dir := clitest.SavedPlan(t, root)
	applyPlanFiles(t, dir, root, "")
	applied := files(t, root)
	code, out, errOut := cli(t, "apply", "--root", root, "--plan", dir, "--yes")
	if code != exitOK || !strings.Contains(out, "Already applied: every file the plan in "+dir+" changes under "+root+" is as the plan leaves it. Nothing was written.") ||
		strings.Contains(out+errOut, "created after the plan was made") {
		t.Errorf("apply again: exit %d\n%s%s", code, out, errOut)
	}
	sameFiles(t, applied, files(t, root))
	if list, _ := plan.ListBackups(plan.DefaultBackupRoot(root)); len(list) != 1 {
		t.Errorf("%d backups, want the first apply's only", len(list))
	}

	root = unhardenedRoot(t)
	dir = clitest.SavedPlan(t, root)
	b := applyPlanFiles(t, dir, root, "etc/kubernetes/manifests/kube-apiserver.yaml")
	half := files(t, root)
	code, out, errOut = cli(t, "apply", "--root", root, "--plan", dir, "--yes")
	for _, want := range []string{"nothing was written: ", "are already as the plan leaves it (", "etc/kubernetes/pki/etcd/server.key",
		"so an earlier apply of this plan stopped part way", "was interrupted; its backup is " + b.Dir,
		"Roll it back with 'etcd-harden rollback --root " + root + " " + b.Dir + "', then apply the plan again"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != exitFailed {
		t.Errorf("exit %d, want %d\n%s", code, exitFailed, out)
	}
	sameFiles(t, half, files(t, root))
}

// TestCancelledApplyExitCode: an apply cancelled and rolled back exits 130.
func TestCancelledApplyExitCode(t *testing.T) {
	err := &rollout.RollbackError{Cause: fmt.Errorf("after writing x: interrupted (%w)", context.Canceled), BackupDir: "/b"}
	if got := exitCode(err); got != exitAborted {
		t.Errorf("exit %d, want %d", got, exitAborted)
	}
}

// TestApplyOtherRootCLI: a plan made for another root is refused, saying so (issue 11).
func TestApplyOtherRootCLI(t *testing.T) {
	planned, other := unhardenedRoot(t), unhardenedRoot(t)
	dir := clitest.SavedPlan(t, planned)
	before := files(t, other)
	code, out, errOut := cli(t, "apply", "--root", other, "--plan", dir, "--yes")
	if want := "the plan in " + dir + " was made for the files under " + planned + ", not " + other; code != exitUsage || !strings.Contains(errOut, want) ||
		!strings.Contains(errOut, "apply it with --root "+planned) || !strings.Contains(errOut, "nothing was written") {
		t.Errorf("exit %d, want %d and %q\n%s%s", code, exitUsage, want, out, errOut)
	}
	sameFiles(t, before, files(t, other))
}

// TestRollbackDamagedCopyCLI: a truncated copy stops the rollback before it touches
// anything; the message names the file, its copy and what to do (issue 11, bad case 3).
func TestRollbackDamagedCopyCLI(t *testing.T) {
	root := unhardenedRoot(t)
	dir := clitest.SavedPlan(t, root)
	b := applyPlanFiles(t, dir, root, "")
	copyPath := filepath.Join(b.Dir, "files", "etc/kubernetes/manifests/etcd.yaml")
	if err := os.Truncate(copyPath, 100); err != nil {
		t.Fatal(err)
	}
	applied := files(t, root)
	code, out, errOut := cli(t, "rollback", "--root", root)
	for _, want := range []string{"nothing was changed, because backup " + b.Dir + " holds copies that do not match what it recorded",
		"etc/kubernetes/manifests/etcd.yaml: its copy " + copyPath + " is damaged (sha256 ",
		"put a good copy of each file named in its place in the backup", "'etcd-harden rollback --list' shows the other backups",
		"'etcd-harden rollback --root " + root + " BACKUP' rolls back one of them"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if code != exitFailed || strings.Contains(out, "put back") {
		t.Errorf("exit %d, want %d\n%s", code, exitFailed, out)
	}
	sameFiles(t, applied, files(t, root)) // kube-apiserver.yaml and the new keys untouched
}

// TestRollbackTwiceCLI: the second rollback says there is nothing to roll back instead
// of reporting files removed again (issue 11, weak case "rollback twice").
func TestRollbackTwiceCLI(t *testing.T) {
	root := unhardenedRoot(t)
	orig := files(t, root)
	dir := clitest.SavedPlan(t, root)
	b := applyPlanFiles(t, dir, root, "")
	if code, out, errOut := cli(t, "rollback", "--root", root); code != exitOK || !strings.Contains(out, "removed  etc/kubernetes/pki/etcd/server.key") {
		t.Fatalf("rollback: exit %d\n%s%s", code, out, errOut)
	}
	sameFiles(t, orig, files(t, root))
	code, out, errOut := cli(t, "rollback", "--root", root)
	want := "Nothing to roll back: the files under " + root + " are already as backup " + b.Dir
	if code != exitOK || !strings.Contains(out, want) || !strings.Contains(out, "Nothing was written.") || strings.Contains(out, "removed") {
		t.Errorf("second rollback: exit %d, want 0 and %q\n%s%s", code, want, out, errOut)
	}
	sameFiles(t, orig, files(t, root))
}
