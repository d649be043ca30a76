// Package snapshot is step 4, the backup destination test: it checks where snapshots go,
// takes one over mutual TLS, verifies it right away (trailer, bbolt, status, a restore
// rehearsal) and suggests a schedule, written into the destination when asked. NewJob and
// Job.Run are the test as both doors run it (`snapshot test` and the wizard's backup
// step). It returns data and reports progress through a callback; it never prints.
package snapshot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Status is the outcome of one check.
type Status string

// The three outcomes of a check.
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
)

// Check is one destination check, ready for a table or for JSON.
type Check struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Names of the destination checks, in the order CheckDest runs them.
const (
	CheckExists    = "exists"
	CheckPrivate   = "private"
	CheckWritable  = "writable"
	CheckOutside   = "outside data dir"
	CheckFreeSpace = "free space"
)

// Failed reports whether any check failed; warnings do not count.
func Failed(checks []Check) bool {
	for _, c := range checks {
		if c.Status == StatusFail {
			return true
		}
	}
	return false
}

// CheckDest checks a snapshot destination: it exists or is created (0700, and the check says
// which), it is private, a probe file can be created and removed in it, it is not inside
// etcd's data dir (symlinks resolved), and its file system has room for two snapshots of
// dbSize bytes (one to keep, one for the restore rehearsal). dataDir "" or dbSize <= 0 turn
// those checks into warnings, since they cannot be decided.
func CheckDest(dest, dataDir string, dbSize int64) []Check {
	// Decide "outside" before creating anything, so a bad --dest leaves no folder behind.
	outside := checkOutside(dest, dataDir)
	if outside.Status == StatusFail {
		if _, err := os.Stat(dest); err != nil {
			c := Check{Name: CheckExists}
			return []Check{fail(c, fmt.Sprintf("%s was not created: it would be inside etcd's data dir", dest), outside.Fix), outside}
		}
	}
	exists := checkExists(dest)
	checks := []Check{exists, outside}
	if exists.Status == StatusFail {
		return checks
	}
	return append(checks, checkPrivate(dest), checkWritable(dest), checkFreeSpace(dest, dbSize))
}

func checkExists(dest string) Check {
	c := Check{Name: CheckExists}
	if dest == "" {
		return fail(c, "no destination given", "pass --dest with a folder for the snapshots")
	}
	fi, err := os.Stat(dest)
	switch {
	case err == nil && fi.IsDir():
		c.Status, c.Message = StatusPass, fmt.Sprintf("%s exists", dest)
		return c
	case err == nil:
		return fail(c, fmt.Sprintf("%s exists but is not a folder", dest), "choose a folder for --dest")
	case !errors.Is(err, fs.ErrNotExist):
		return fail(c, fmt.Sprintf("cannot look at %s: %v", dest, err), "choose a folder you can reach for --dest")
	}
	if err := os.MkdirAll(dest, 0o700); err != nil {
		return fail(c, fmt.Sprintf("%s does not exist and cannot be made: %v", dest, err),
			"create the folder yourself, or choose another --dest")
	}
	c.Status, c.Message = StatusPass, fmt.Sprintf("%s did not exist; created it with mode 0700", dest)
	return c
}

// checkPrivate warns when others can read the folder: a snapshot holds every Secret.
func checkPrivate(dest string) Check {
	c := Check{Name: CheckPrivate}
	fi, err := os.Stat(dest)
	if err != nil {
		return fail(c, fmt.Sprintf("cannot look at %s: %v", dest, err), "choose another --dest")
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("%s has mode %04o: others can list it (snapshot files are 0600, but they hold every Secret)", dest, perm)
		c.Fix = fmt.Sprintf("chmod 700 %s", dest)
		return c
	}
	c.Status, c.Message = StatusPass, fmt.Sprintf("%s is private (%04o)", dest, fi.Mode().Perm())
	return c
}

func checkWritable(dest string) Check {
	c := Check{Name: CheckWritable}
	f, err := os.CreateTemp(dest, ".etcd-harden-probe-*")
	if err != nil {
		return fail(c, fmt.Sprintf("cannot create a file in %s: %v", dest, err),
			"make the folder writable by this user, or choose another --dest")
	}
	name := f.Name()
	_, werr := f.Write([]byte("etcd-harden probe\n"))
	if werr == nil {
		werr = f.Sync()
	}
	cerr := f.Close()
	rerr := os.Remove(name)
	if err := errors.Join(werr, cerr); err != nil {
		return fail(c, fmt.Sprintf("cannot write a file in %s: %v", dest, err), "free space on that file system, or choose another --dest")
	}
	if rerr != nil {
		return fail(c, fmt.Sprintf("created %s but cannot remove it: %v", name, rerr), "remove it by hand and fix the folder's permissions")
	}
	c.Status, c.Message = StatusPass, fmt.Sprintf("created and removed a probe file in %s", dest)
	return c
}

func checkOutside(dest, dataDir string) Check {
	c := Check{Name: CheckOutside}
	if dataDir == "" {
		c.Status, c.Message = StatusWarn, "etcd's data dir is unknown; cannot tell whether the destination is inside it"
		c.Fix = "pass the data dir (etcd's --data-dir) so this can be checked"
		return c
	}
	d, derr := resolve(dest)
	e, eerr := resolve(dataDir)
	if err := errors.Join(derr, eerr); err != nil {
		return fail(c, fmt.Sprintf("cannot resolve %s or %s: %v", dest, dataDir, err), "choose a --dest you can reach")
	}
	if within(d, e) {
		return fail(c, fmt.Sprintf("%s is inside etcd's data dir %s (resolved: %s): losing the disk loses both, and a restore wipes it",
			dest, dataDir, d), "choose a --dest outside "+dataDir+", ideally on another disk")
	}
	c.Status, c.Message = StatusPass, fmt.Sprintf("%s is outside etcd's data dir %s", d, e)
	return c
}

func checkFreeSpace(dest string, dbSize int64) Check {
	c := Check{Name: CheckFreeSpace}
	var st unix.Statfs_t
	if err := unix.Statfs(dest, &st); err != nil {
		return fail(c, fmt.Sprintf("cannot read free space of %s: %v", dest, err), "choose another --dest")
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if dbSize <= 0 {
		c.Status = StatusWarn
		c.Message = fmt.Sprintf("%s free in %s; etcd's DB size is unknown, so it cannot be compared", HumanBytes(avail), dest)
		return c
	}
	need := 2 * dbSize
	if avail < need {
		return fail(c, fmt.Sprintf("%s free in %s, need %s: room for two snapshots of the %s DB (one kept, one restore rehearsal)",
			HumanBytes(avail), dest, HumanBytes(need), HumanBytes(dbSize)), "free space there, or choose a --dest on a larger file system")
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("%s free in %s, room for %d snapshots of %s", HumanBytes(avail), dest, avail/dbSize, HumanBytes(dbSize))
	return c
}

func fail(c Check, msg, fix string) Check {
	c.Status, c.Message, c.Fix = StatusFail, msg, fix
	return c
}

// resolve makes p absolute and resolves symlinks in its longest existing prefix, so that a
// destination that does not exist yet still resolves through a symlinked parent.
func resolve(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	var rest []string
	for cur := abs; ; cur = filepath.Dir(cur) {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) || cur == filepath.Dir(cur) {
			return "", err
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
	}
}

// within reports whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// HumanBytes formats n in binary units ("1.5 GiB").
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
