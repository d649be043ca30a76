package offsite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// ScheduleFiles are the files of a schedule that runs `etcd-harden snapshot save`.
type ScheduleFiles struct {
	snapshot.ScheduleFiles
	// EnvFile is the template of the 0600 environment file with the store's credentials,
	// which the operator fills in; EnvFilePath is where the units read it.
	EnvFile     string `json:"envFile"`
	EnvFilePath string `json:"envFilePath"`
	// Written are the files WriteSchedule wrote; EnvFileKept is the environment file it
	// found there already and left alone (it may hold the credentials: never read here).
	Written     []string `json:"written,omitempty"`
	EnvFileKept string   `json:"envFileKept,omitempty"`
}

// EnvFileName is the name of the environment file WriteSchedule writes beside the units;
// the units read it at EnvFilePath (/etc/etcd-harden/s3.env).
const EnvFileName = "s3.env"

// WriteSchedule writes the schedule files of which ("cronjob", "systemd" or "both") into
// dir as snapshot.WriteSchedule does (atomically, mode 0600, an edited copy never
// overwritten), and beside them the environment file's template (EnvFileName, mode 0600,
// empty values) unless a file of that name is there: that one is the operator's, may hold
// the credentials, and is neither read nor changed (f.EnvFileKept). No secret is written.
func WriteSchedule(dir, which string, f *ScheduleFiles) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("schedule files: %w", err)
	}
	written, err := snapshot.WriteSchedule(dir, which, &f.ScheduleFiles)
	f.Written = written
	if err != nil {
		return err
	}
	path := filepath.Join(dir, EnvFileName)
	// O_EXCL: a file made meanwhile is never truncated.
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, snapshot.EnvFileMode)
	if errors.Is(err, fs.ErrExist) {
		f.EnvFileKept = path
		return nil
	}
	if err != nil {
		return fmt.Errorf("environment file: %w", err)
	}
	if _, err = file.WriteString(f.EnvFile); err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("environment file %s: %w", path, err)
	}
	f.Written = append(f.Written, path)
	return nil
}

// FolderSaveArgs are the flags of `snapshot save` that keep sealed snapshots in the host
// folder dest: public keys only.
func FolderSaveArgs(dest string, rs *seal.Recipients, keep int) []string {
	args := []string{"--dest", dest}
	for _, k := range rs.Keys() {
		args = append(args, "--encrypt-to", k)
	}
	if keep < 1 {
		keep = snapshot.DefaultKeep
	}
	return append(args, "--keep", strconv.Itoa(keep))
}

// SaveArgs are the flags of `snapshot save` that repeat this request: public values only
// (the recipients' public keys, never a secret; credentials come from the environment).
func SaveArgs(r Request) []string {
	args := []string{"--dest", r.Dest}
	if r.Store.Endpoint != "" {
		args = append(args, "--s3-endpoint", r.Store.Endpoint)
	}
	for _, k := range r.Recipients.Keys() {
		args = append(args, "--encrypt-to", k)
	}
	if r.Plaintext {
		args = append(args, "--no-encrypt")
	}
	keep := r.Keep
	if keep < 1 {
		keep = snapshot.DefaultKeep
	}
	args = append(args, "--keep", strconv.Itoa(keep))
	if r.Staging != "" {
		args = append(args, "--staging", r.Staging)
	}
	return args
}

// Schedule fills the schedule of r from the connection's settings in o (Endpoint, TLS
// files, Image, Keep).
func Schedule(r Request, o snapshot.ScheduleOptions) *ScheduleFiles {
	so := snapshot.SaveScheduleOptions{ScheduleOptions: o, Args: SaveArgs(r)}
	cron, svc, timer, env := snapshot.SaveSchedule(so)
	return &ScheduleFiles{ScheduleFiles: snapshot.ScheduleFiles{CronJob: cron, SystemdService: svc, SystemdTimer: timer},
		EnvFile: env, EnvFilePath: "/etc/etcd-harden/s3.env"}
}
