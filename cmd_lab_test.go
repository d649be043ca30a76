package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	l := startLab(t)
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

// TestLabEnvAfterHardening: what the lab prints when it ends is etcd as the wizard left
// it (https and the client pair), not as it was at start.
func TestLabEnvAfterHardening(t *testing.T) {
	l := startLab(t)
	root := l.Root()
	httpURL := l.Endpoint()
	var before bytes.Buffer
	printLabEnv(&before, l, "now")
	if !strings.Contains(before.String(), "export ETCDCTL_ENDPOINTS='"+httpURL+"'") || strings.Contains(before.String(), "ETCDCTL_CERT") {
		t.Fatalf("at start:\n%s", before.String())
	}
	if code, out, errOut := cli(t, "apply", "--root", root, "--plan", savedPlan(t, root), "--yes", "--timeout", "60s"); code != exitOK {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	var after bytes.Buffer
	printLabEnv(&after, l, "at exit")
	httpsURL := strings.Replace(httpURL, "http://", "https://", 1)
	for _, want := range []string{
		"lab: at exit etcd answers on " + httpsURL + " (pid ",
		"export ETCDCTL_ENDPOINTS='" + httpsURL + "'",
		"export ETCDCTL_CACERT='" + filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt") + "'",
		"export ETCDCTL_CERT='" + filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.crt") + "'",
		"export ETCDCTL_KEY='" + filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.key") + "'",
	} {
		if !strings.Contains(after.String(), want) {
			t.Errorf("at exit the lab prints no %q:\n%s", want, after.String())
		}
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
