package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/clitest"
)

// TestLabRefusesBadCounts: a count out of range is a usage error that names the flag and
// the range, and no lab is laid out.
func TestLabRefusesBadCounts(t *testing.T) {
	for _, n := range []string{"-5", "10001"} {
		dir := filepath.Join(t.TempDir(), "lab")
		code, out, errOut := cli(t, "lab", "--plain", "--dir", dir, "--secrets", n)
		if code != exitUsage || !strings.Contains(errOut, "--secrets "+n+": give a count from 0 to 10000") {
			t.Errorf("lab --secrets %s: exit %d, want %d with the range\n%s%s", n, code, exitUsage, out, errOut)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("lab --secrets %s laid out %s: %v", n, dir, err)
		}
	}
}

// TestLabEnvDir: `lab env --dir` finds a running lab in its folder, and says what is wrong
// with a folder that holds none.
func TestLabEnvDir(t *testing.T) {
	l := clitest.StartLab(t)
	code, out, errOut := cli(t, "lab", "env", "--dir", l.Root())
	if want := "export ETCDCTL_ENDPOINTS='" + l.Endpoint() + "'\n"; code != exitOK || out != want {
		t.Errorf("lab env --dir %s: exit %d\n%s%s\nwant %s", l.Root(), code, out, errOut, want)
	}
	notLab := t.TempDir()
	for _, tc := range []struct{ dir, want string }{
		{notLab, notLab + " is not a lab folder: it has no var/lib/etcd-harden-lab/lab.json; give the folder of `etcd-harden lab --keep --dir DIR`"},
		{filepath.Join(notLab, "nope"), filepath.Join(notLab, "nope") + " is not a lab folder: no such folder"},
	} {
		code, out, errOut := cli(t, "lab", "env", "--dir", tc.dir)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("lab env --dir %s: exit %d, want %d and %q\n%s%s", tc.dir, code, exitUsage, tc.want, out, errOut)
		}
	}
	code, _, errOut = cli(t, "lab", "env", "--dir", notLab, l.Root())
	if code != exitUsage || !strings.Contains(errOut, "not both") {
		t.Errorf("lab env with --dir and an argument: exit %d\n%s", code, errOut)
	}
}

// TestLabRefusesBadAnswersFirst: a bad answers file is refused before the lab lays out
// its folder or starts etcd.
func TestLabRefusesBadAnswersFirst(t *testing.T) {
	answers := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(answers, []byte("backup.keep: seven\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "lab")
	code, out, errOut := cli(t, "lab", "--plain", "--dir", dir, "--answers", answers)
	if code != exitUsage || !strings.Contains(errOut, `backup.keep "seven": give a whole number`) || strings.Contains(errOut, "lab: root") {
		t.Errorf("lab --answers with backup.keep: seven: exit %d, want %d before the lab starts\n%s%s", code, exitUsage, out, errOut)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the lab laid out %s: %v", dir, err)
	}
}
