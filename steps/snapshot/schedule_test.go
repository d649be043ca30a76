package snapshot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"
)

func scheduleOptions(dest string) ScheduleOptions {
	return ScheduleOptions{
		Endpoint: "https://127.0.0.1:2379",
		CACert:   "/etc/kubernetes/pki/etcd/ca.crt",
		Cert:     "/etc/kubernetes/pki/etcd/healthcheck-client.crt",
		Key:      "/etc/kubernetes/pki/etcd/healthcheck-client.key",
		Dest:     dest,
		Keep:     3,
		Image:    "registry.k8s.io/etcd:3.5.21-0",
	}
}

func TestScheduleCronJobParses(t *testing.T) {
	for _, dest := range []string{"/var/backups/etcd", `/var/backups/it's 100% "etcd" $HOME`} {
		t.Run(dest, func(t *testing.T) {
			o := scheduleOptions(dest)
			o.Key = "/etc/etcd-client/client.key" // a second folder to mount
			cron, _, _ := Schedule(o)
			var cj batchv1.CronJob
			if err := yaml.UnmarshalStrict([]byte(cron), &cj); err != nil {
				t.Fatalf("not a strict batch/v1 CronJob: %v\n%s", err, cron)
			}
			spec := cj.Spec.JobTemplate.Spec.Template.Spec
			if cj.APIVersion != "batch/v1" || cj.Kind != "CronJob" || cj.Namespace != "kube-system" || cj.Spec.Schedule != "17 */6 * * *" {
				t.Fatalf("header: %+v", cj.TypeMeta)
			}
			if !spec.HostNetwork || spec.NodeSelector["node-role.kubernetes.io/control-plane"] != "" || len(spec.Tolerations) != 1 ||
				spec.Tolerations[0].Key != "node-role.kubernetes.io/control-plane" {
				t.Fatalf("placement: %+v", spec)
			}
			save := spec.InitContainers[0]
			if save.Image != o.Image || !slices.Equal(save.Command, []string{"etcdctl", "snapshot", "save", dest + "/" + latest}) {
				t.Fatalf("save container: %+v", save)
			}
			env := map[string]string{}
			for _, e := range save.Env {
				env[e.Name] = e.Value
			}
			if env["ETCDCTL_ENDPOINTS"] != o.Endpoint || env["ETCDCTL_CACERT"] != o.CACert || env["ETCDCTL_KEY"] != o.Key {
				t.Fatalf("env: %v", env)
			}
			var hostPaths []string
			for _, v := range spec.Volumes {
				hostPaths = append(hostPaths, v.HostPath.Path)
			}
			if want := []string{"/etc/kubernetes/pki/etcd", "/etc/etcd-client", dest}; !slices.Equal(hostPaths, want) {
				t.Fatalf("hostPaths %v, want %v", hostPaths, want)
			}
			if len(save.VolumeMounts) != 3 || save.VolumeMounts[0].MountPath != "/etc/kubernetes/pki/etcd" || !save.VolumeMounts[0].ReadOnly {
				t.Fatalf("mounts: %+v", save.VolumeMounts)
			}
			keep := spec.Containers[0]
			if keep.Image != "busybox:1.37" || len(keep.Command) != 3 || keep.Command[2] != cronScript(o.withDefaults()) {
				t.Fatalf("retention container: %+v", keep)
			}
		})
	}
}

// TestScheduleCronRetention runs the CronJob's shell step for real on a folder.
func TestScheduleCronRetention(t *testing.T) {
	dest := filepath.Join(t.TempDir(), `it's 100% $backups`)
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{latest, "etcd-snapshot-20240101T000000Z.db", "etcd-snapshot-20240102T000000Z.db",
		"etcd-snapshot-20240103T000000Z.db", "etcd-snapshot-20240104T000000Z.db", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dest, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o := scheduleOptions(dest).withDefaults()
	if out, err := exec.Command("sh", "-c", cronScript(o)).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	names := entries(t, dest)
	if len(names) != 4 || !slices.Contains(names, "notes.txt") || !slices.Contains(names, "etcd-snapshot-20240104T000000Z.db") ||
		!slices.Contains(names, "etcd-snapshot-20240103T000000Z.db") || slices.Contains(names, latest) {
		t.Fatalf("after retention: %v", names)
	}
}

// TestScheduleSystemdRuns runs the service's commands, decoded as systemd would, with
// Debian's etcdctl against a TLS etcd, and verifies the snapshot it leaves.
func TestScheduleSystemdRuns(t *testing.T) {
	etcdctl, err := exec.LookPath("etcdctl")
	if err != nil {
		t.Skip("no etcdctl in PATH; apt-get install etcd-client to run the systemd service's commands")
	}
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 300, 100)
	dest := filepath.Join(t.TempDir(), `it's 100% $backups`)
	o := ScheduleOptions{Endpoint: srv.Endpoint, CACert: srv.TLS.CA, Cert: srv.TLS.ClientCert, Key: srv.TLS.ClientKey,
		Dest: dest, Keep: 2, Etcdctl: etcdctl}
	_, service, timer := Schedule(o)
	if !strings.Contains(timer, "OnCalendar=*-*-* 00/6:17:00") || !strings.Contains(timer, "Unit=etcd-snapshot.service") {
		t.Fatalf("timer:\n%s", timer)
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		dir := t.TempDir()
		for name, body := range map[string]string{"etcd-snapshot.service": service, "etcd-snapshot.timer": timer} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		out, err := exec.Command(sa, "verify", filepath.Join(dir, "etcd-snapshot.service"), filepath.Join(dir, "etcd-snapshot.timer")).CombinedOutput()
		if err != nil {
			t.Fatalf("systemd-analyze verify: %v\n%s\n%s", err, out, service)
		}
	}
	env := os.Environ()
	var cmds []string
	for _, line := range strings.Split(service, "\n") {
		key, val, _ := strings.Cut(line, "=")
		switch key {
		case "Environment":
			env = append(env, unitUnquote(t, val))
		case "ExecStartPre", "ExecStart", "ExecStartPost":
			cmds = append(cmds, val)
		}
	}
	for i := 0; i < 3; i++ { // three runs, keep two
		for _, c := range cmds {
			var cmd *exec.Cmd
			if script, ok := strings.CutPrefix(c, "/bin/sh -c "); ok {
				cmd = exec.Command("/bin/sh", "-c", unitUnquote(t, script))
			} else {
				f := strings.SplitN(c, " ", 4) // /bin/mkdir -p -m 0700 "dir"
				cmd = exec.Command(f[0], f[1], "-m", "0700", unitUnquote(t, strings.TrimPrefix(f[3], "0700 ")))
			}
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", c, err, out)
			}
		}
		time.Sleep(1100 * time.Millisecond) // names carry the second
	}
	names := entries(t, dest)
	if len(names) != 2 {
		t.Fatalf("want the 2 newest snapshots, got %v", names)
	}
	v, err := Verify(context.Background(), filepath.Join(dest, names[1]))
	if err != nil || v.TotalKeys != 300 {
		t.Fatalf("the service's snapshot does not verify: %v %+v", err, v)
	}
	if fi, _ := os.Stat(filepath.Join(dest, names[1])); fi.Mode().Perm() != 0o600 {
		t.Fatalf("snapshot mode %v", fi.Mode())
	}
}

// unitUnquote decodes one double-quoted systemd value as our unit escaping wrote it.
func unitUnquote(t *testing.T, s string) string {
	t.Helper()
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		t.Fatalf("not a quoted unit value: %s", s)
	}
	s = s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s):
			i++
		case (s[i] == '%' || s[i] == '$') && i+1 < len(s) && s[i+1] == s[i]:
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
