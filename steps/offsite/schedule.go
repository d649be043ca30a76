package offsite

import (
	"strconv"

	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// ScheduleFiles are the files of a schedule that runs `etcd-harden snapshot save`.
type ScheduleFiles struct {
	snapshot.ScheduleFiles
	// EnvFile is the template of the 0600 environment file with the store's credentials,
	// which the operator fills in; EnvFilePath is where the units read it.
	EnvFile     string `json:"envFile"`
	EnvFilePath string `json:"envFilePath"`
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
