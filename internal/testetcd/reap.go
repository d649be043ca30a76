package testetcd

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ProcessesUnder returns the pids of live processes (zombies aside) whose command line
// names a path under dir: an etcd a lab in dir runs has its data dir there. It returns
// nil where there is no /proc.
func ProcessesUnder(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), prefix) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if _, rest, _ := strings.Cut(string(stat), ") "); strings.HasPrefix(rest, "Z") {
				continue // a zombie: it runs no more
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// ReapUnder makes sure no process runs under dir when the test ends, failed or not: it
// waits up to 5 s for the test's own cleanups to stop them, then kills what is left
// (SIGKILL) and fails the test naming them. Call it before anything that starts such a
// process, so that it runs after their cleanups and before dir is removed.
func ReapUnder(t testing.TB, dir string) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			pids := ProcessesUnder(dir)
			if len(pids) == 0 {
				return
			}
			if time.Now().After(deadline) {
				for _, pid := range pids {
					if p, err := os.FindProcess(pid); err == nil {
						_ = p.Kill()
					}
				}
				t.Errorf("processes %v still ran under %s when the test ended; killed them (%s)", pids, dir, describe(pids))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func describe(pids []int) string {
	var out []string
	for _, pid := range pids {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		out = append(out, strings.ReplaceAll(strings.TrimRight(string(cmdline), "\x00"), "\x00", " "))
	}
	return strings.Join(out, "; ")
}
