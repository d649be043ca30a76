package rollout_test

import (
	"context"
	"crypto/sha256"
	"fmt"
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
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// The test binary doubles as the lab's etcd (etcdChildEnv) and as the crash test's
// child that applies a saved plan and kills itself at one write point (crashEnv).
const (
	etcdChildEnv = "ROLLOUT_ETCD_CHILD"
	crashEnv     = "ROLLOUT_CRASH" // "<root>|<plan dir>|<backup root>|<point number>"
)

func TestMain(m *testing.M) {
	if os.Getenv(etcdChildEnv) == "1" {
		lab.RunEtcdMain(os.Args[1:])
		os.Exit(0)
	}
	if v := os.Getenv(crashEnv); v != "" {
		if err := crashChild(v); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild applies the saved plan and SIGKILLs itself at write point number n.
func crashChild(v string) error {
	parts := strings.Split(v, "|")
	if len(parts) != 4 {
		return fmt.Errorf("bad %s=%q", crashEnv, v)
	}
	root, dir, backups := parts[0], parts[1], parts[2]
	n, err := strconv.Atoi(parts[3])
	if err != nil {
		return err
	}
	p, err := harden.ReadOut(dir, root)
	if err != nil {
		return err
	}
	points := 0
	_, err = rollout.Apply(context.Background(), p, root, rollout.Options{
		BackupRoot: backups, Timeout: 30 * time.Second, Interval: 100 * time.Millisecond,
		Hook: func(point string) {
			if points++; points == n {
				fmt.Fprintln(os.Stderr, "killed at", point)
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
		},
	}, nil)
	return err
}

// startLab starts a lab whose etcd is this test binary, closed when the test ends.
func startLab(tb testing.TB) *lab.Lab {
	tb.Helper()
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{
		Dir: filepath.Join(tb.TempDir(), "root"), RegistryDir: tb.TempDir(),
		Secrets: 5, ConfigMaps: -1,
		Log: func(s string) { tb.Log("lab: " + s) },
		EtcdCommand: func(args []string) *exec.Cmd {
			cmd := exec.Command(self, args...)
			cmd.Env = append(os.Environ(), etcdChildEnv+"=1")
			return cmd
		},
	})
	if err != nil {
		tb.Fatalf("start lab: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

// hardenPlan builds the whole hardening plan for the node under root, in the wizard's
// order: encryption at rest, then certificates and the manifest edits that use them.
func hardenPlan(tb testing.TB, root string) *plan.Plan {
	tb.Helper()
	return hardenResult(tb, root).Plan
}

// hardenResult plans the whole hardening of the node under root, as `plan` does.
func hardenResult(tb testing.TB, root string) *harden.Result {
	tb.Helper()
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		tb.Fatal(err)
	}
	r, err := harden.Build(st, harden.Options{})
	if err != nil {
		tb.Fatalf("plan the hardening: %v", err)
	}
	return r
}

// tree is a snapshot of the files under root/etc: content hash and mode by path.
type tree map[string]string

func snapshot(tb testing.TB, root string) tree {
	tb.Helper()
	out := tree{}
	err := filepath.WalkDir(filepath.Join(root, "etc"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[filepath.ToSlash(rel)+"/"] = info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fmt.Sprintf("%x %s", sha256.Sum256(data), info.Mode())
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func sameTree(tb testing.TB, want, got tree) {
	tb.Helper()
	for p, w := range want {
		if g, ok := got[p]; !ok {
			tb.Errorf("%s is gone", p)
		} else if g != w {
			tb.Errorf("%s: %s, want %s", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			tb.Errorf("%s was left behind", p)
		}
	}
}

// oldTarget is how to reach the lab's etcd as the files under root are now.
func currentTarget(tb testing.TB, root string) rollout.Target {
	tb.Helper()
	l := discover.Defaults(root, "", "")
	etcd, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(lab.EtcdManifest)))
	if err != nil {
		tb.Fatal(err)
	}
	api, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(lab.APIServerFile)))
	if err != nil {
		tb.Fatal(err)
	}
	t, err := rollout.TargetFor(l, etcd, api)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func waitHealthy(tb testing.TB, t rollout.Target) rollout.Health {
	tb.Helper()
	h, err := rollout.Wait(context.Background(), t, rollout.WaitOptions{Timeout: 30 * time.Second, Interval: 100 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}
