package snapshot

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/template"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
)

// ScheduleOptions fill the schedule templates with this node's paths and endpoint.
type ScheduleOptions struct {
	// Endpoint is the one etcd client URL to snapshot, e.g. https://127.0.0.1:2379.
	Endpoint string
	// CACert, Cert and Key are host paths of the client TLS files etcdctl uses.
	CACert, Cert, Key string
	// Dest is the host folder that keeps the snapshots.
	Dest string
	// Keep is how many of the newest snapshots to keep (3 when < 1).
	Keep int
	// Image is the etcd image from the etcd manifest (it carries etcdctl).
	Image string
	// ShellImage runs the rename and retention step in the CronJob, because the etcd
	// images from registry.k8s.io are distroless and have no shell (busybox:1.37 when "").
	ShellImage string
	// Cron is the CronJob schedule ("17 */6 * * *" when "").
	Cron string
	// OnCalendar is the systemd timer's schedule ("*-*-* 00/6:17:00" when "").
	OnCalendar string
	// Etcdctl is the etcdctl path on the host for the systemd service (/usr/bin/etcdctl when "").
	Etcdctl string
	// Name names the CronJob and the systemd units ("etcd-snapshot" when "").
	Name string
	// SaveArgs, when not empty, make the schedule run `etcd-harden snapshot save` with these
	// flags (SaveSchedule) instead of etcdctl: what sealing needs (--encrypt-to), since
	// etcdctl would leave the snapshot in the clear. Public values only.
	SaveArgs []string
}

func (o ScheduleOptions) withDefaults() ScheduleOptions {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&o.ShellImage, "busybox:1.37")
	def(&o.Cron, "17 */6 * * *")
	def(&o.OnCalendar, "*-*-* 00/6:17:00")
	def(&o.Etcdctl, "/usr/bin/etcdctl")
	def(&o.Name, "etcd-snapshot")
	if o.Keep < 1 {
		o.Keep = 3
	}
	return o
}

// Schedule returns a Kubernetes CronJob (batch/v1, kube-system, on a control-plane node,
// host network, certs and destination as hostPath volumes) and a systemd service and timer
// that both run `etcdctl snapshot save` against o.Endpoint into o.Dest and keep the o.Keep
// newest snapshots. The files use etcdctl rather than this tool so that they keep working
// on a node where etcd-harden is not installed.
func Schedule(o ScheduleOptions) (cronJob, systemdService, systemdTimer string) {
	o = o.withDefaults()
	return execute(cronJobTmpl, o), execute(serviceTmpl, o), execute(timerTmpl, o)
}

// snapshotGlob is the file pattern the retention step applies to; it never touches other files.
const snapshotGlob = "etcd-snapshot-*.db"

// retention is the sh command that keeps the newest keep snapshots in dest. Names carry a
// sortable UTC time and sh sorts a glob by name, so the oldest come first and are removed
// until keep remain. No ls or xargs: file names are never parsed.
func retention(dest string, keep int) string {
	return fmt.Sprintf(`set -- %s/%s; n=$(($# - %d)); while [ "$n" -gt 0 ]; do rm -f -- "$1"; shift; n=$((n - 1)); done`,
		shq(dest), snapshotGlob, keep)
}

// latest is the fixed name etcdctl writes in the CronJob before the shell step renames it.
const latest = ".etcd-snapshot-latest.db"

func cronScript(o ScheduleOptions) string {
	d := shq(o.Dest)
	return fmt.Sprintf("set -eu; ts=$(date -u +%%Y%%m%%dT%%H%%M%%SZ); mv %s/%s %s/etcd-snapshot-$ts.db; %s",
		d, latest, d, retention(o.Dest, o.Keep))
}

func serviceSave(o ScheduleOptions) string {
	return fmt.Sprintf("set -eu; umask 077; f=%s/etcd-snapshot-$(date -u +%%Y%%m%%dT%%H%%M%%SZ).db; %s snapshot save \"$f\"",
		shq(o.Dest), shq(o.Etcdctl))
}

// hostDirs are the distinct folders holding the TLS files, each mounted read-only.
func hostDirs(o ScheduleOptions) []string {
	var dirs []string
	for _, p := range []string{o.CACert, o.Cert, o.Key} {
		if d := filepath.Dir(p); !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

var funcs = template.FuncMap{
	// q quotes a value for YAML: a JSON string is a YAML scalar.
	"q": func(s string) string {
		b, _ := json.Marshal(s)
		return string(b)
	},
	// unit escapes a value for a systemd unit line: % specifiers and $ expansion.
	"unit": func(s string) string {
		return strings.NewReplacer("%", "%%", "$", "$$", `\`, `\\`, `"`, `\"`).Replace(s)
	},
	"retention":  retention,
	"cronScript": cronScript,
	"save":       serviceSave,
	"hostDirs":   hostDirs,
	"latest":     func() string { return latest },
}

// shq quotes s for sh with single quotes.
func shq(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func execute(t *template.Template, o ScheduleOptions) string {
	var b strings.Builder
	if err := t.Execute(&b, o); err != nil {
		panic(err) // the templates are constants; tests execute them
	}
	return b.String()
}

// cronJobSpec is the CronJob both schedules share, down to the pod's tolerations: kube-system,
// one run at a time, on a control-plane node's network.
const cronJobSpec = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{q .Name}}
  namespace: kube-system
  labels:
    app.kubernetes.io/name: {{q .Name}}
    app.kubernetes.io/managed-by: etcd-harden
spec:
  schedule: {{q .Cron}}
  concurrencyPolicy: Forbid
  successfulJobsHistoryLimit: 3
  failedJobsHistoryLimit: 3
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        metadata:
          labels:
            app.kubernetes.io/name: {{q .Name}}
        spec:
          hostNetwork: true
          restartPolicy: OnFailure
          priorityClassName: system-cluster-critical
          nodeSelector:
            node-role.kubernetes.io/control-plane: ""
          tolerations:
          - key: node-role.kubernetes.io/control-plane
            operator: Exists
            effect: NoSchedule
`

var cronJobTmpl = template.Must(template.New("cronjob").Funcs(funcs).Parse(`# etcd snapshots on the cron schedule "{{.Cron}}" into {{.Dest}} on a control-plane node,
# keeping the {{.Keep}} newest. Generated by etcd-harden; review, then: kubectl apply -f
` + cronJobSpec + `          initContainers:
          - name: save
            image: {{q .Image}}
            command:
            - etcdctl
            - snapshot
            - save
            - {{q (printf "%s/%s" .Dest latest)}}
            env:
            - name: ETCDCTL_API
              value: "3"
            - name: ETCDCTL_ENDPOINTS
              value: {{q .Endpoint}}
            - name: ETCDCTL_CACERT
              value: {{q .CACert}}
            - name: ETCDCTL_CERT
              value: {{q .Cert}}
            - name: ETCDCTL_KEY
              value: {{q .Key}}
            volumeMounts:
{{- range $i, $d := hostDirs .}}
            - name: etcd-certs-{{$i}}
              mountPath: {{q $d}}
              readOnly: true
{{- end}}
            - name: backup
              mountPath: {{q .Dest}}
          containers:
          - name: keep-{{.Keep}}
            image: {{q .ShellImage}}
            command:
            - /bin/sh
            - -c
            - {{q (cronScript .)}}
            volumeMounts:
            - name: backup
              mountPath: {{q .Dest}}
          volumes:
{{- range $i, $d := hostDirs .}}
          - name: etcd-certs-{{$i}}
            hostPath:
              path: {{q $d}}
              type: Directory
{{- end}}
          - name: backup
            hostPath:
              path: {{q .Dest}}
              type: DirectoryOrCreate
`))

var serviceTmpl = template.Must(template.New("service").Funcs(funcs).Parse(`# /etc/systemd/system/{{.Name}}.service (generated by etcd-harden)
[Unit]
Description=etcd snapshot of {{unit .Endpoint}} into {{unit .Dest}}
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
Environment="ETCDCTL_API=3"
Environment="ETCDCTL_ENDPOINTS={{unit .Endpoint}}"
Environment="ETCDCTL_CACERT={{unit .CACert}}"
Environment="ETCDCTL_CERT={{unit .Cert}}"
Environment="ETCDCTL_KEY={{unit .Key}}"
UMask=0077
ExecStartPre=/bin/mkdir -p -m 0700 "{{unit .Dest}}"
ExecStart=/bin/sh -c "{{unit (save .)}}"
# keep the {{.Keep}} newest
ExecStartPost=/bin/sh -c "{{unit (retention .Dest .Keep)}}"
`))

var timerTmpl = template.Must(template.New("timer").Funcs(funcs).Parse(`# /etc/systemd/system/{{.Name}}.timer (generated by etcd-harden)
# enable with: systemctl daemon-reload && systemctl enable --now {{.Name}}.timer
[Unit]
Description=Run {{.Name}}.service on {{unit .OnCalendar}}

[Timer]
OnCalendar={{unit .OnCalendar}}
RandomizedDelaySec=5m
Persistent=true
Unit={{.Name}}.service

[Install]
WantedBy=timers.target
`))

// Schedules are the schedules a test can suggest: none, a Kubernetes CronJob, systemd
// units, or both.
var Schedules = []string{"none", "cronjob", "systemd", "both"}

// DefaultKeep is how many snapshots a schedule keeps unless told otherwise.
const DefaultKeep = 7

// CheckSchedule says whether which is one of Schedules.
func CheckSchedule(which string) error {
	if !slices.Contains(Schedules, which) {
		return fmt.Errorf("use one of %s", strings.Join(Schedules, ", "))
	}
	return nil
}

// Names of the schedule files WriteSchedule writes into the destination.
const (
	CronJobFile = "etcd-snapshot-cronjob.yaml"
	ServiceFile = "etcd-snapshot.service"
	TimerFile   = "etcd-snapshot.timer"
)

// ErrScheduleExists is wrapped by WriteSchedule's error when a schedule file is already
// there with other content.
var ErrScheduleExists = errors.New("exists with other content and was not overwritten")

// WriteSchedule writes the schedule files of which ("cronjob", "systemd" or "both") into
// dest, each atomically with mode 0600, and returns their paths. A file that is already
// there with other content is left alone and is an error, so that an edited copy is never
// lost.
func WriteSchedule(dest, which string, f *ScheduleFiles) ([]string, error) {
	var files []struct{ name, text string }
	if which == "cronjob" || which == "both" {
		files = append(files, struct{ name, text string }{CronJobFile, f.CronJob})
	}
	if which == "systemd" || which == "both" {
		files = append(files,
			struct{ name, text string }{ServiceFile, f.SystemdService},
			struct{ name, text string }{TimerFile, f.SystemdTimer})
	}
	var written []string
	for _, file := range files {
		path := filepath.Join(dest, file.name)
		if old, err := os.ReadFile(path); err == nil && string(old) != file.text {
			return written, fmt.Errorf("%s %w: remove or rename it", path, ErrScheduleExists)
		}
		if err := atomicfile.Write(path, []byte(file.text), 0o600, atomicfile.Options{}); err != nil {
			return written, err
		}
		written = append(written, path)
	}
	return written, nil
}
