package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/lab"
)

// TestLabScenarioMistakes: each mistake on the command line is refused with words that
// name it, before anything is laid out.
func TestLabScenarioMistakes(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	notLab := t.TempDir()
	kept := layOutScenario(t, "no-backup")
	fresh := filepath.Join(t.TempDir(), "new")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"lab", "--scenario", "nope", "--dir", fresh}, exitUsage, `--scenario: unknown scenario "nope": choose one of fresh, guide-mistake, weak-cipher, expiring-certs, wrong-sans, key-leak, no-backup (etcd-harden lab --list)`},
		{[]string{"lab", "--scenario", "fresh", "--dir", kept}, exitUsage, "--dir " + kept + " holds a lab already: go on with it with `etcd-harden lab --dir '" + kept + "'`, start its scenario over with `etcd-harden lab reset --dir '" + kept + "'`"},
		{[]string{"lab", "check", "--dir", notLab}, exitUsage, notLab + " is not a lab folder: it has no var/lib/etcd-harden-lab/scenario.json"},
		{[]string{"lab", "check", "--dir", kept, "-o", "yaml"}, exitUsage, `--output "yaml": use json or text`},
		{[]string{"lab", "reset"}, exitUsage, "lab reset: --dir is required"},
		{[]string{"lab", "reset", "--dir", filepath.Join(notLab, "nope")}, exitUsage, "is not a lab folder: no such folder"},
		{[]string{"lab", "rewrite", "--dir", kept}, exitFailed, "the lab in " + kept + " is not running"},
	} {
		code, out, errOut := cli(t, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("etcd-harden %s: exit %d, want %d and %q\n%s%s", strings.Join(tc.args, " "), code, tc.code, tc.want, out, errOut)
		}
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("an unknown scenario laid out %s: %v", fresh, err)
	}
}

// TestLabList: one line per scenario, its name first.
func TestLabList(t *testing.T) {
	code, out, errOut := cli(t, "lab", "--list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != len(lab.Scenarios()) {
		t.Fatalf("lab --list: exit %d\n%s%s", code, out, errOut)
	}
	for i, s := range lab.Scenarios() {
		if !strings.HasPrefix(lines[i], s.Name+" ") || !strings.HasSuffix(lines[i], s.Short) {
			t.Errorf("line %d: %q, want %s and %q", i+1, lines[i], s.Name, s.Short)
		}
	}
}

// TestLabReset: reset refuses a running lab, and puts a solved one back to its start,
// brief included.
func TestLabReset(t *testing.T) {
	root := layOutScenario(t, "no-backup")
	l := resumeLab(t, root)
	code, _, errOut := cli(t, "lab", "reset", "--dir", root)
	if code != exitFailed || !strings.Contains(errOut, "the lab in "+root+" is running (pid ") {
		t.Errorf("lab reset on a running lab: exit %d\n%s", code, errOut)
	}
	mustRun(t, "snapshot", "test", "--dest", filepath.Join(root, "var/backups/etcd"), "--root", root)
	os.RemoveAll(filepath.Join(root, "var/lib/etcd/backups"))
	l.Close()
	wantGrade(t, root, true, nil, nil)
	if err := os.WriteFile(filepath.Join(root, "BRIEF.md"), []byte("scribbled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, "lab", "reset", "--dir", root)
	if !strings.Contains(out, "scenario no-backup laid out again in "+root) {
		t.Errorf("lab reset says:\n%s", out)
	}
	wantGrade(t, root, false, map[string]string{lab.GoalSnapshot: "no snapshot", lab.GoalBackupOutsideDataDir: "backups"}, nil)
	if brief, _ := os.ReadFile(filepath.Join(root, "BRIEF.md")); !strings.HasPrefix(string(brief), "# Lab scenario: no-backup") {
		t.Errorf("BRIEF.md after reset:\n%s", brief)
	}
}
