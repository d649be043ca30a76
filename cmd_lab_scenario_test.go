package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/lab"
)

// layOutScenario lays a scenario out as a student does, `lab --scenario NAME --keep`,
// leaving the wizard at once (end of input): the lab stops and its tree is kept.
func layOutScenario(t *testing.T, name string) string {
	t.Helper()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir()) // the registry of running labs is this test's
	root := filepath.Join(t.TempDir(), "lab")
	testetcd.ReapUnder(t, root) // after a failure too, no etcd of this lab outlives the test
	code, out, errOut := cli(t, "lab", "--scenario", name, "--dir", root, "--keep", "--plain", "--secrets", "5")
	if code != exitAborted {
		t.Fatalf("lab --scenario %s: exit %d, want %d (the wizard aborted at end of input)\n%s%s", name, code, exitAborted, out, errOut)
	}
	if !strings.Contains(errOut, "lab: scenario "+name+": read "+filepath.Join(root, "BRIEF.md")) {
		t.Errorf("lab --scenario %s does not point at its brief:\n%s", name, errOut)
	}
	return root
}

// resumeLab runs the kept lab in root again for the test, as `etcd-harden lab --dir`
// would, so that the subcommands have an etcd to talk to.
func resumeLab(t *testing.T, root string) *lab.Lab {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.Resume(ctx, lab.Options{Dir: root, Keep: true, Log: func(s string) { t.Log(s) }})
	if err != nil {
		t.Fatalf("resume the lab: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// labCheck runs `lab check --dir root -o json` and returns its exit code and report.
func labCheck(t *testing.T, root string) (int, lab.Report) {
	t.Helper()
	code, out, errOut := cli(t, "lab", "check", "--dir", root, "-o", "json")
	var rep lab.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("lab check -o json: exit %d, not JSON (%v)\n%s%s", code, err, out, errOut)
	}
	return code, rep
}

// wantGrade checks the exit code of `lab check` and the goals named in fail and pass
// (id → a text their observation must hold); at the end (done) every goal must pass.
func wantGrade(t *testing.T, root string, done bool, fail, pass map[string]string) lab.Report {
	t.Helper()
	code, rep := labCheck(t, root)
	wantCode := exitFailed
	if done {
		wantCode = exitOK
	}
	if code != wantCode || rep.Done() != done {
		t.Errorf("lab check: exit %d, score %d of %d; want exit %d", code, rep.Passed, rep.Total, wantCode)
	}
	seen := map[string]bool{}
	for _, g := range rep.Goals {
		seen[g.ID] = true
		for status, want := range map[lab.GoalStatus]map[string]string{lab.GoalFail: fail, lab.GoalPass: pass} {
			text, named := want[g.ID]
			switch {
			case named && g.Status != status:
				t.Errorf("goal %s: %s (%s), want %s", g.ID, g.Status, g.Observed, status)
			case named && !strings.Contains(g.Observed, text):
				t.Errorf("goal %s observed %q, want it to say %q", g.ID, g.Observed, text)
			}
		}
		if done && g.Status != lab.GoalPass {
			t.Errorf("goal %s fails at the end: %s", g.ID, g.Observed)
		}
	}
	for _, want := range []map[string]string{fail, pass} {
		for id := range want {
			if !seen[id] {
				t.Errorf("lab check grades no goal %s", id)
			}
		}
	}
	return rep
}

// run runs a subcommand that must succeed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := cli(t, args...)
	if code != exitOK {
		t.Fatalf("etcd-harden %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestLabScenarioWeakCipher: rotate to secretbox with the subcommands, rewrite, and
// retire the aescbc key with `plan --retire-key`, which refuses while Secrets use it.
func TestLabScenarioWeakCipher(t *testing.T) {
	root := layOutScenario(t, "weak-cipher")
	wantGrade(t, root, false, map[string]string{
		lab.GoalStrongProvider:    "aescbc:key-2023",
		lab.GoalSecretsCurrentKey: "still writes with the old key aescbc:key-2023",
		lab.GoalOldKeyRemoved:     "still has the old key's secret",
	}, map[string]string{lab.GoalSecretsEncrypted: "5 under aescbc:key-2023"})
	resumeLab(t, root)
	plan := filepath.Join(t.TempDir(), "plan")
	mustRun(t, "plan", "--root", root, "--out", plan, "--rotate", "--key-name", "key-2026")
	mustRun(t, "apply", "--root", root, "--plan", plan, "--yes")
	// Too early: every Secret is still stored with the aescbc key.
	early := filepath.Join(t.TempDir(), "early")
	code, out, errOut := cli(t, "plan", "--root", root, "--out", early, "--retire-key", "key-2023")
	want := regexp.MustCompile(`key aescbc:key-2023 cannot be retired: etcd still holds 5 values stored with it \(secrets 5, at revision \d+\), which kube-apiserver could no longer read; rewrite them under the new key first \(kubectl get secrets --all-namespaces -o json \| kubectl replace -f -; in an etcd-harden lab: etcd-harden lab rewrite\)`)
	if code != exitFailed || !want.MatchString(errOut) {
		t.Errorf("plan --retire-key before the rewrite: exit %d, want %d and the count of values\n%s%s", code, exitFailed, out, errOut)
	}
	if entries, _ := os.ReadDir(early); len(entries) > 0 {
		t.Errorf("a refused plan wrote %d files into %s", len(entries), early)
	}
	mustRun(t, "lab", "rewrite", "--dir", root)
	wantGrade(t, root, false, map[string]string{lab.GoalOldKeyRemoved: "aescbc:key-2023"},
		map[string]string{lab.GoalSecretsCurrentKey: "all 5 Secrets under secretbox:key-2026"})
	retire := filepath.Join(t.TempDir(), "retire")
	if out := mustRun(t, "plan", "--root", root, "--out", retire, "--retire-key", "key-2023"); !strings.Contains(out,
		"Key retired: aescbc:key-2023, removed from the encryption config: the scan of etcd found no value stored with it.") {
		t.Errorf("the plan's summary does not name the retired key:\n%s", out)
	}
	if review, err := os.ReadFile(filepath.Join(retire, "REVIEW.md")); err != nil || !strings.Contains(string(review), "- Retired: `aescbc:key-2023`, removed from the config: the scan of etcd found no value stored with it") {
		t.Errorf("REVIEW.md does not list the retired key (%v):\n%s", err, review)
	}
	mustRun(t, "apply", "--root", root, "--plan", retire, "--yes")
	wantGrade(t, root, true, nil, map[string]string{lab.GoalOldKeyRemoved: "no provider"})
}

// TestLabScenarioFresh: the whole wizard, run in the kept lab with an answers file,
// solves the default scenario.
func TestLabScenarioFresh(t *testing.T) {
	root := layOutScenario(t, "fresh")
	wantGrade(t, root, false, map[string]string{
		lab.GoalClientTLS:        "--listen-client-urls has http://127.0.0.1:",
		lab.GoalPeerTLS:          "peers talk without TLS",
		lab.GoalAPIServerReaches: "without TLS",
		lab.GoalSecretsEncrypted: "5 of 5 Secrets in plaintext",
		lab.GoalStrongProvider:   "names no encryption config",
		lab.GoalSnapshot:         "no snapshot",
	}, nil)
	answers := filepath.Join(t.TempDir(), "answers.yaml")
	backups := filepath.Join(root, "var/backups/etcd")
	if err := os.WriteFile(answers, []byte(`encryption.provider: secretbox
encryption.resources: [secrets]
encryption.custom: ""
encryption.keyName: key-2026
encryption.rotate: false
encryption.autoReload: false
certs.mode: auto
certs.keyType: ecdsa-p256
certs.nodeName: lab-control-plane
certs.advertiseIP: 127.0.0.1
review.action: apply
backup.dest: `+backups+`
backup.schedule: none
backup.keep: 7
backup.write: false
backup.skip: false
summary.rewrite: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cli(t, "lab", "--dir", root, "--plain", "--answers", answers, "--yes"); code != exitOK {
		t.Fatalf("lab --dir %s with the answers: exit %d\n%s%s", root, code, out, errOut)
	}
	wantGrade(t, root, false, map[string]string{lab.GoalPeerTLS: "advertises peer URL http://127.0.0.1:"}, nil)
	// etcd keeps the peer URL it first ran with in its member list: the student
	// updates it, as with `etcdctl member update ID --peer-urls=https://...`.
	updatePeerURL(t, resumeLab(t, root))
	wantGrade(t, root, true, nil, map[string]string{
		lab.GoalClientTLS:        "refused a client without a certificate",
		lab.GoalSecretsEncrypted: "5 under secretbox:key-2026",
		lab.GoalSnapshot:         "/var/backups/etcd/etcd-snapshot-",
	})
}

// updatePeerURL sets the lab's member's peer URL to https, as etcdctl member update.
func updatePeerURL(t *testing.T, l *lab.Lab) {
	t.Helper()
	cli, err := l.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := members.Members[0]
	https := []string{strings.Replace(m.PeerURLs[0], "http://", "https://", 1)}
	if _, err := cli.MemberUpdate(ctx, m.ID, https); err != nil {
		t.Fatalf("member update %x --peer-urls=%s: %v", m.ID, https[0], err)
	}
}

// TestLabScenarioGuideMistake: etcd refuses the guide's flag in its own words and the
// lab's kubelet keeps restarting it; the plan moves the flag to kube-apiserver and etcd
// runs again.
func TestLabScenarioGuideMistake(t *testing.T) {
	root := layOutScenario(t, "guide-mistake")
	wantGrade(t, root, false, map[string]string{
		lab.GoalEtcdRuns:         "etcd's own last words: flag provided but not defined: -encryption-provider-config",
		lab.GoalFlagPlacement:    "etcd.yaml still sets --encryption-provider-config=/etc/kubernetes/enc/enc.yaml",
		lab.GoalSecretsEncrypted: "",
	}, nil)
	l := resumeLab(t, root)
	// The lab's kubelet restarts the refusing etcd (CrashLoopBackOff), and the check says so.
	for deadline := time.Now().Add(30 * time.Second); l.Pod().Restarts < 1; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the lab did not restart the failing etcd within 30s: %+v", l.Pod())
		}
	}
	if pod := l.Pod(); pod.LastError != "flag provided but not defined: -encryption-provider-config" {
		t.Errorf("the lab's kubelet keeps %q as etcd's last error; want etcd's refusal", pod.LastError)
	}
	wantGrade(t, root, false, map[string]string{lab.GoalEtcdRuns: "the lab's kubelet restarted it "}, nil)
	plan := filepath.Join(t.TempDir(), "plan")
	mustRun(t, "plan", "--root", root, "--out", plan)
	mustRun(t, "apply", "--root", root, "--plan", plan, "--yes")
	mustRun(t, "lab", "rewrite", "--dir", root)
	wantGrade(t, root, true, nil, map[string]string{
		lab.GoalEtcdRuns:      "etcd answers on https://127.0.0.1:",
		lab.GoalFlagPlacement: "etcd.yaml has no --encryption-provider-config",
	})
}

// TestLabScenarioExpiringCerts: `plan --certs generate` renews the leaves with the same
// CA and changes nothing else.
func TestLabScenarioExpiringCerts(t *testing.T) {
	root := layOutScenario(t, "expiring-certs")
	wantGrade(t, root, false, map[string]string{lab.GoalCertsValid: ""},
		map[string]string{lab.GoalUnchanged: "as at the start", lab.GoalClientTLS: "", lab.GoalAPIServerReaches: ""})
	resumeLab(t, root)
	plan := filepath.Join(t.TempDir(), "plan")
	mustRun(t, "plan", "--root", root, "--out", plan, "--certs", "generate")
	mustRun(t, "apply", "--root", root, "--plan", plan, "--yes")
	wantGrade(t, root, true, nil, map[string]string{lab.GoalCertsValid: "server 364 days left, peer 364 days left"})
}

// TestLabScenarioWrongSANs: kube-apiserver's dial by IP fails the name check until the
// server certificate is re-issued.
func TestLabScenarioWrongSANs(t *testing.T) {
	root := layOutScenario(t, "wrong-sans")
	wantGrade(t, root, false, map[string]string{
		lab.GoalSANs:             "127.0.0.1",
		lab.GoalAPIServerReaches: "its server certificate does not name this host",
	}, map[string]string{lab.GoalClientTLS: "refused a client without a certificate"})
	resumeLab(t, root)
	plan := filepath.Join(t.TempDir(), "plan")
	mustRun(t, "plan", "--root", root, "--out", plan)
	mustRun(t, "apply", "--root", root, "--plan", plan, "--yes")
	wantGrade(t, root, true, nil, nil)
}

// TestLabScenarioKeyLeak: a snapshot taken before the rewrite does not count; the wizard
// (an answers file) retires the leaked key once every Secret is rewritten, refusing
// before, and takes the snapshot after.
func TestLabScenarioKeyLeak(t *testing.T) {
	root := layOutScenario(t, "key-leak")
	wantGrade(t, root, false, map[string]string{
		lab.GoalSecretsCurrentKey:    "still writes with the old key secretbox:key-2024-ops",
		lab.GoalSnapshotAfterRewrite: "no snapshot",
	}, map[string]string{lab.GoalSecretsEncrypted: "5 under secretbox:key-2024-ops"})
	resumeLab(t, root)
	backups := filepath.Join(root, "var/backups/etcd")
	mustRun(t, "snapshot", "test", "--dest", backups, "--root", root)
	plan := filepath.Join(t.TempDir(), "plan")
	mustRun(t, "plan", "--root", root, "--out", plan, "--rotate", "--key-name", "key-2026")
	mustRun(t, "apply", "--root", root, "--plan", plan, "--yes")

	answers := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(answers, []byte(`encryption.provider: secretbox
encryption.resources: [secrets]
encryption.custom: ""
encryption.keyName: key-2026
encryption.rotate: false
encryption.retireKeys: [key-2024-ops]
encryption.autoReload: false
certs.mode: existing
review.action: apply
backup.dest: `+backups+`
backup.schedule: none
backup.keep: 7
backup.write: false
backup.skip: false
`), 0o600); err != nil {
		t.Fatal(err)
	}
	// Too early: the wizard's encryption step refuses, naming the Secrets that use the key.
	code, out, errOut := cli(t, "--root", root, "--plain", "--answers", answers, "--yes")
	if code != exitFailed || !strings.Contains(out+errOut, "key secretbox:key-2024-ops cannot be retired: etcd still holds 5 values stored with it") ||
		!strings.Contains(out+errOut, "etcd-harden lab rewrite") {
		t.Errorf("the wizard retiring the key before the rewrite: exit %d, want %d and the count of values\n%s%s", code, exitFailed, out, errOut)
	}
	mustRun(t, "lab", "rewrite", "--dir", root)
	wantGrade(t, root, false, map[string]string{
		lab.GoalSnapshotAfterRewrite: "older than the last Secret write",
		lab.GoalOldKeyRemoved:        "key-2024-ops",
	}, map[string]string{lab.GoalSecretsCurrentKey: "all 5 Secrets under secretbox:key-2026"})
	time.Sleep(time.Second) // snapshot names have whole seconds
	if code, out, errOut := cli(t, "--root", root, "--plain", "--answers", answers, "--yes"); code != exitOK || !strings.Contains(out, "secretbox:key-2024-ops") {
		t.Fatalf("the wizard retiring the key after the rewrite: exit %d\n%s%s", code, out, errOut)
	}
	wantGrade(t, root, true, nil, map[string]string{
		lab.GoalOldKeyRemoved:        "no provider",
		lab.GoalSnapshotAfterRewrite: "after the last Secret write",
	})
}

// TestLabScenarioNoBackup: snapshot test refuses the folder inside the data dir; a
// snapshot elsewhere and the old folder gone pass.
func TestLabScenarioNoBackup(t *testing.T) {
	root := layOutScenario(t, "no-backup")
	wantGrade(t, root, false, map[string]string{
		lab.GoalSnapshot:             "no snapshot",
		lab.GoalBackupOutsideDataDir: "holds backups besides etcd's own member/",
	}, map[string]string{lab.GoalClientTLS: ""})
	resumeLab(t, root)
	inData := filepath.Join(root, "var/lib/etcd/backups")
	code, out, errOut := cli(t, "snapshot", "test", "--dest", inData, "--root", root)
	if code != exitFailed || !strings.Contains(out+errOut, "data dir") {
		t.Errorf("snapshot test --dest %s: exit %d, want %d naming the data dir\n%s%s", inData, code, exitFailed, out, errOut)
	}
	mustRun(t, "snapshot", "test", "--dest", filepath.Join(root, "var/backups/etcd"), "--root", root)
	if err := os.RemoveAll(inData); err != nil {
		t.Fatal(err)
	}
	wantGrade(t, root, true, nil, map[string]string{lab.GoalSnapshot: "verified", lab.GoalBackupOutsideDataDir: "holds only"})
}
