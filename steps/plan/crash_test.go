//go:build unix

package plan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The crash test re-runs this test binary as a child that applies fullPlan to the root
// in crashRootEnv and kills itself with SIGKILL at the crashAtEnv-th write point.
const (
	crashRootEnv = "PLAN_CRASH_ROOT"
	crashAtEnv   = "PLAN_CRASH_AT"
)

func TestMain(m *testing.M) {
	if root := os.Getenv(crashRootEnv); root != "" {
		if err := crashChild(root, os.Getenv(crashAtEnv)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashChild plans and applies, dying at write point number at (1-based).
func crashChild(root, at string) error {
	n, err := strconv.Atoi(at)
	if err != nil {
		return err
	}
	p, err := fullPlan(root)
	if err != nil {
		return err
	}
	points := 0
	_, err = p.Apply(ApplyOptions{Hook: func(point string) {
		if points++; points == n {
			fmt.Fprintln(os.Stderr, "killed at", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}})
	return err
}

// TestCrashAtEveryWritePoint kills Apply at each point where it could die and checks
// that every target is wholly old or wholly new, and that Restore brings back the
// originals byte for byte with their modes.
func TestCrashAtEveryWritePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("re-runs the test binary many times")
	}
	var points int
	for at := 1; ; at++ {
		root := seeded(t)
		orig := snapshot(t, root)
		p := mustPlan(t, root) // what the child will plan: gives old and new bytes
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashRootEnv+"="+root, crashAtEnv+"="+strconv.Itoa(at))
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		killed := errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled()
		if err != nil && !killed {
			t.Fatalf("child at %d: %v\n%s", at, err, out)
		}
		where := strings.TrimSpace(string(out))
		if !killed {
			where = "after a full apply"
		}

		// Every target is old or new, never a mix or a truncated file.
		newCount := 0
		for _, c := range p.Changes {
			data, err := os.ReadFile(filepath.Join(root, c.Path))
			switch {
			case errors.Is(err, fs.ErrNotExist) && !c.Existed:
			case err != nil:
				t.Fatalf("%s: %s: %v", where, c.Path, err)
			case string(data) == string(c.New):
				newCount++
			case c.Existed && string(data) == string(c.Old):
			default:
				t.Fatalf("%s: %s is neither old nor new: %q", where, c.Path, data)
			}
		}

		backup, err := LatestBackup(DefaultBackupRoot(root))
		if errors.Is(err, ErrNoBackup) {
			// Died while writing the backup: no target may have been touched.
			if newCount > 0 {
				t.Fatalf("%s: %d targets written before the backup was complete", where, newCount)
			}
			backup = ""
		} else if err != nil {
			t.Fatal(err)
		}
		if backup != "" {
			if err := Restore(root, backup); err != nil {
				t.Fatalf("%s: restore: %v", where, err)
			}
		}
		after := snapshot(t, root)
		for path := range after {
			if strings.HasPrefix(path, "var/") {
				delete(after, path)
			}
		}
		if backup != "" {
			sameTree(t, orig, after) // temp files cleaned, created files gone
		} else {
			for path, s := range orig {
				if after[path] != s {
					t.Errorf("%s: %s changed", where, path)
				}
			}
		}
		if t.Failed() {
			t.Fatalf("failed %s", where)
		}
		if !killed {
			points = at - 1
			break
		}
	}
	// 2 copies + index, 2 new folders, 4 files × (temp, rename, synced).
	if points != 17 {
		t.Errorf("child died at %d write points, want 17", points)
	}
}
