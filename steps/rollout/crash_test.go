//go:build unix

package rollout_test

import (
	"context"
	"errors"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// TestCrashAtEveryWritePoint runs rollout.Apply in a child process (this test binary,
// see crashChild) against a running lab and kills it with SIGKILL at each write point,
// the points after etcd.yaml included (the child waits for the new etcd there). After
// each kill every target must be wholly old or wholly new, and a rollback from the
// latest backup must bring back the original tree byte for byte, and the old etcd.
func TestCrashAtEveryWritePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a lab and re-runs the test binary once per write point")
	}
	l := startLab(t)
	root := l.Root()
	before := currentTarget(t, root)
	waitHealthy(t, before)
	orig := snapshot(t, root)
	r := hardenResult(t, root)
	p := r.Plan
	dir := filepath.Join(t.TempDir(), "plan")
	if err := harden.WriteOut(dir, r, harden.WriteOptions{}); err != nil {
		t.Fatal(err)
	}

	points := 0
	for at := 1; ; at++ {
		backups := filepath.Join(t.TempDir(), "backups")
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+strings.Join([]string{root, dir, backups, strconv.Itoa(at)}, "|"))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		killed := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled()
		if err != nil && !killed {
			t.Fatalf("child at point %d: %v\n%s", at, err, out)
		}
		where := strings.TrimSpace(string(out))
		if !killed {
			where = "after a full apply"
		}

		etcdNew := false
		for _, c := range p.Changes {
			data, err := os.ReadFile(filepath.Join(root, c.Path))
			switch {
			case errors.Is(err, fs.ErrNotExist) && !c.Existed:
			case err != nil:
				t.Fatalf("%s: %s: %v", where, c.Path, err)
			case string(data) == string(c.New):
				etcdNew = etcdNew || c.Path == lab.EtcdManifest
			case c.Existed && string(data) == string(c.Old):
			default:
				t.Fatalf("%s: %s is neither old nor new (%d bytes)", where, c.Path, len(data))
			}
		}

		backup, err := plan.LatestBackup(backups)
		switch {
		case errors.Is(err, plan.ErrNoBackup):
			sameTree(t, orig, snapshot(t, root)) // died while backing up: nothing touched
		case err != nil:
			t.Fatal(err)
		default:
			if err := plan.Restore(root, backup); err != nil {
				t.Fatalf("%s: rollback: %v", where, err)
			}
			sameTree(t, orig, snapshot(t, root))
		}
		if t.Failed() {
			t.Fatalf("failed %s", where)
		}
		if etcdNew { // the lab ran etcd over TLS: it must come back on http
			if _, err := rollout.Wait(context.Background(), before, rollout.WaitOptions{Timeout: 30 * time.Second, Interval: 100 * time.Millisecond}); err != nil {
				t.Fatalf("%s: after the rollback: %v", where, err)
			}
		}
		if !killed {
			points = at - 1
			break
		}
	}
	// Every file: temp, rename, synced; every copy of a replaced file; the index; the
	// folders made for new files.
	want := 3*len(p.Changes) + 1
	for _, c := range p.Changes {
		if c.Existed {
			want++
		}
	}
	if points < want {
		t.Errorf("the child died at %d write points, want at least %d", points, want)
	}
	t.Logf("killed at %d write points", points)
}
