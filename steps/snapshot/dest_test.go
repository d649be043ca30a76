package snapshot

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckDest(t *testing.T) {
	root := t.TempDir()
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(root, "etcd")
	if err := os.MkdirAll(filepath.Join(dataDir, "member"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dataDir, filepath.Join(root, "link-to-etcd")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(root, "open")
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dest    string
		dataDir string
		dbSize  int64
		want    map[string]Status // check name → status; others must pass
		msg     string            // in one of the messages
		created bool              // dest exists afterwards
	}{
		{"new folder is created 0700", filepath.Join(root, "new", "backups"), dataDir, 1 << 20, nil, "created it with mode 0700", true},
		{"existing private folder", root, dataDir, 1 << 20, map[string]Status{}, "", true},
		{"others can list it", open, dataDir, 1 << 20, map[string]Status{CheckPrivate: StatusWarn}, "mode 0755", true},
		{"inside the data dir", filepath.Join(dataDir, "member", "backups"), dataDir, 1 << 20,
			map[string]Status{CheckExists: StatusFail, CheckOutside: StatusFail}, "was not created: it would be inside etcd's data dir", false},
		{"inside the data dir through a symlink", filepath.Join(root, "link-to-etcd", "snaps"), dataDir, 1 << 20,
			map[string]Status{CheckExists: StatusFail, CheckOutside: StatusFail}, "inside etcd's data dir", false},
		{"the data dir itself", dataDir, dataDir, 1 << 20,
			map[string]Status{CheckOutside: StatusFail}, "is inside etcd's data dir", true},
		{"a file, not a folder", filepath.Join(root, "file"), dataDir, 1 << 20,
			map[string]Status{CheckExists: StatusFail}, "exists but is not a folder", true},
		{"under a file", filepath.Join(root, "file", "sub"), dataDir, 1 << 20,
			map[string]Status{CheckExists: StatusFail}, "cannot look at", false},
		{"not writable, even for root", "/proc", dataDir, 1 << 20,
			map[string]Status{CheckWritable: StatusFail, CheckPrivate: StatusWarn, CheckFreeSpace: StatusFail}, "cannot create a file in /proc", true},
		{"no room for two snapshots", root, dataDir, 1 << 60,
			map[string]Status{CheckFreeSpace: StatusFail}, "room for two snapshots", true},
		{"unknown data dir and size", root, "", 0,
			map[string]Status{CheckOutside: StatusWarn, CheckFreeSpace: StatusWarn}, "data dir is unknown", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checks := CheckDest(tc.dest, tc.dataDir, tc.dbSize)
			var msgs []string
			for _, c := range checks {
				want := StatusPass
				if s, ok := tc.want[c.Name]; ok {
					want = s
				}
				if c.Status != want {
					t.Errorf("%s: %s (%s), want %s", c.Name, c.Status, c.Message, want)
				}
				msgs = append(msgs, c.Message)
				if c.Status == StatusFail && c.Fix == "" {
					t.Errorf("%s failed without a fix: %s", c.Name, c.Message)
				}
			}
			if !strings.Contains(strings.Join(msgs, "\n"), tc.msg) {
				t.Errorf("no message contains %q: %+v", tc.msg, checks)
			}
			if _, err := os.Stat(tc.dest); (err == nil) != tc.created {
				t.Errorf("%s exists afterwards: %v, want %v", tc.dest, err == nil, tc.created)
			}
			if fi, err := os.Stat(tc.dest); err == nil && fi.IsDir() && tc.dest != "/proc" {
				for _, n := range entries(t, tc.dest) {
					if strings.HasPrefix(n, ".etcd-harden-probe") {
						t.Errorf("probe file %s left behind", n)
					}
				}
			}
		})
	}
	fi, err := os.Stat(filepath.Join(root, "new", "backups"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("new folder: %v, mode %v", err, fi.Mode())
	}
}
