package lab_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/lab"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
)

// childEnv makes the test binary run etcd instead of the tests (see TestMain).
const childEnv = "LAB_ETCD_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		lab.RunEtcdMain(args)
		os.Exit(0)
	}
	if dir := os.Getenv(parentEnv); dir != "" {
		runParent(dir)
		return
	}
	os.Exit(m.Run())
}

// parentEnv makes the test binary a lab process that prints etcd's pid and waits to be
// killed (see TestNoOrphanWhenLabDies).
const parentEnv = "LAB_TEST_PARENT"

func runParent(dir string) {
	self, _ := os.Executable()
	l, err := lab.Start(context.Background(), lab.Options{Dir: filepath.Join(dir, "root"), RegistryDir: dir, Secrets: -1, ConfigMaps: -1,
		EtcdCommand: func(args []string) *exec.Cmd {
			cmd := exec.Command(self, append([]string{"--"}, args...)...)
			cmd.Env = append(os.Environ(), childEnv+"=1", parentEnv+"=")
			return cmd
		}})
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	if os.Getenv(crashEnv) == "" {
		fmt.Println(l.PID())
		select {}
	}
	path := filepath.Join(l.Root(), lab.EtcdManifest)
	data, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(data, []byte("    - etcd\n"), []byte("    - etcd\n"+guideFlag), 1), 0o600)
	for e := range l.Events() {
		if e.Kind == lab.EtcdFailed {
			break
		}
	}
	fmt.Println("crash-looping")
	select {}
}

// testCommand runs etcd through this test binary.
func testCommand(tb testing.TB) func(args []string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	return func(args []string) *exec.Cmd {
		cmd := exec.Command(self, append([]string{"--"}, args...)...)
		cmd.Env = append(os.Environ(), childEnv+"=1")
		return cmd
	}
}

// startLab starts a lab in a test folder and closes it when the test ends.
func startLab(tb testing.TB, opts lab.Options) *lab.Lab {
	tb.Helper()
	if opts.Dir == "" {
		opts.Dir = filepath.Join(tb.TempDir(), "root")
	}
	if opts.RegistryDir == "" {
		opts.RegistryDir = tb.TempDir()
	}
	opts.EtcdCommand = testCommand(tb)
	if opts.Log == nil {
		opts.Log = func(s string) { tb.Log(s) }
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, opts)
	if err != nil {
		tb.Fatalf("start lab: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}

func client(tb testing.TB, l *lab.Lab) *clientv3.Client {
	tb.Helper()
	c, err := l.Client()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

func get(tb testing.TB, c *clientv3.Client, prefix string) map[string][]byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		tb.Fatalf("get %s: %v", prefix, err)
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

func TestStartLaysOutTreeAndSeedsPlaintext(t *testing.T) {
	reg := t.TempDir()
	l := startLab(t, lab.Options{Secrets: 40, ConfigMaps: 8, RegistryDir: reg})
	root := l.Root()

	for path, want := range map[string]os.FileMode{
		lab.EtcdManifest: 0o600, lab.APIServerFile: 0o600, lab.EtcdDataDir: 0o700 | os.ModeDir,
		"etc/kubernetes/pki/ca.key": 0o600,
	} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(root, lab.EtcdPKIDir)); len(entries) != 0 {
		t.Errorf("%s holds %d files; the lab must leave etcd certificates to the wizard", lab.EtcdPKIDir, len(entries))
	}
	etcdYAML, _ := os.ReadFile(filepath.Join(root, lab.EtcdManifest))
	for _, unwanted := range []string{"--cert-file", "--client-cert-auth", "--peer-cert-file", "https://"} {
		if bytes.Contains(etcdYAML, []byte(unwanted)) {
			t.Errorf("etcd.yaml contains %q; the lab's etcd must start unhardened", unwanted)
		}
	}

	if !strings.HasPrefix(l.Endpoint(), "http://127.0.0.1:") {
		t.Fatalf("endpoint %q, want http://127.0.0.1:PORT", l.Endpoint())
	}
	resp, err := http.Get(l.Endpoint() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /health: %s", resp.Status)
	}

	secrets := get(t, client(t, l), "/registry/secrets/")
	if len(secrets) != 40 {
		t.Fatalf("%d Secrets in etcd, want 40", len(secrets))
	}
	types := map[corev1.SecretType]int{}
	for key, v := range secrets {
		if !bytes.HasPrefix(v, []byte("k8s\x00")) {
			t.Fatalf("%s does not start with the k8s\\x00 magic: %q", key, v[:min(len(v), 12)])
		}
		obj, _, err := lab.Serializer.Decode(v, nil, &corev1.Secret{})
		if err != nil {
			t.Fatalf("decode %s: %v", key, err)
		}
		s := obj.(*corev1.Secret)
		if lab.SecretKey(s.Namespace, s.Name) != key || len(s.Data) == 0 {
			t.Errorf("%s decodes to %s/%s with %d data keys", key, s.Namespace, s.Name, len(s.Data))
		}
		types[s.Type]++
	}
	for _, want := range []corev1.SecretType{corev1.SecretTypeOpaque, corev1.SecretTypeTLS, corev1.SecretTypeServiceAccountToken, corev1.SecretTypeDockerConfigJson} {
		if types[want] == 0 {
			t.Errorf("no Secret of type %s among %v", want, types)
		}
	}
	if n := len(get(t, client(t, l), "/registry/configmaps/")); n != 8 {
		t.Errorf("%d ConfigMaps, want 8", n)
	}

	env, err := l.Env()
	if err != nil || len(env) != 1 || env[0] != "ETCDCTL_ENDPOINTS="+l.Endpoint() {
		t.Errorf("Env() = %v, %v; want only ETCDCTL_ENDPOINTS=%s", env, err, l.Endpoint())
	}
	if env2, err := lab.EnvFor(root); err != nil || strings.Join(env2, " ") != strings.Join(env, " ") {
		t.Errorf("EnvFor(root) = %v, %v; want %v", env2, err, env)
	}
	ptr, err := os.ReadFile(filepath.Join(reg, "current"))
	if err != nil || strings.TrimSpace(string(ptr)) != root {
		t.Errorf("registry pointer = %q, %v; want %s", ptr, err, root)
	}
	st, err := lab.ReadState(root)
	if err != nil || st.EtcdPID != l.PID() || st.Endpoint != l.Endpoint() || st.PID != os.Getpid() {
		t.Errorf("state = %+v, %v", st, err)
	}
}

// waitFor reads events until one of kind comes; an unexpected failure ends the test.
func waitFor(t *testing.T, l *lab.Lab, kind lab.EventKind) lab.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-l.Events():
			if e.Kind == kind {
				return e
			}
			if e.Kind == lab.EtcdFailed {
				t.Fatalf("waiting for %s, got failure: %v\n%s", kind, e.Err, strings.Join(e.Log, "\n"))
			}
		case <-timeout:
			t.Fatalf("no %s event within 30s", kind)
		}
	}
}

// writeFile replaces a manifest atomically, keeping its mode, as an editor or the wizard would.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRestartsOnManifestChange(t *testing.T) {
	l := startLab(t, lab.Options{Secrets: 5, ConfigMaps: -1})
	root := l.Root()
	httpURL := l.Endpoint()
	port := strings.TrimPrefix(httpURL, "http://127.0.0.1:")
	testetcd.NewTLS(t, filepath.Join(root, lab.EtcdPKIDir))

	// kube-apiserver first: changing it does not restart etcd.
	apiPath := filepath.Join(root, lab.APIServerFile)
	api := readFile(t, apiPath)
	api = strings.Replace(api, "--etcd-servers=http://", "--etcd-servers=https://", 1)
	api = strings.Replace(api, "    - --etcd-servers=", "    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt\n"+
		"    - --etcd-certfile=/etc/kubernetes/pki/etcd/client.crt\n"+
		"    - --etcd-keyfile=/etc/kubernetes/pki/etcd/client.key\n    - --etcd-servers=", 1)
	writeFile(t, apiPath, api)

	etcdPath := filepath.Join(root, lab.EtcdManifest)
	plain := readFile(t, etcdPath)
	hardened := strings.ReplaceAll(plain, "http://127.0.0.1:"+port, "https://127.0.0.1:"+port)
	hardened = strings.Replace(hardened, "    - --data-dir=/var/lib/etcd\n", "    - --cert-file=/etc/kubernetes/pki/etcd/server.crt\n"+
		"    - --client-cert-auth=true\n    - --data-dir=/var/lib/etcd\n"+
		"    - --key-file=/etc/kubernetes/pki/etcd/server.key\n"+
		"    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n", 1)
	writeFile(t, etcdPath, hardened)

	waitFor(t, l, lab.EtcdStopped)
	ready := waitFor(t, l, lab.EtcdReady)
	if !ready.Restart || ready.Endpoint != "https://127.0.0.1:"+port {
		t.Fatalf("ready event %+v; want a restart on https://127.0.0.1:%s", ready, port)
	}
	env, err := l.Env()
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(root, lab.EtcdPKIDir)
	want := []string{"ETCDCTL_ENDPOINTS=https://127.0.0.1:" + port, "ETCDCTL_CACERT=" + filepath.Join(pki, "ca.crt"),
		"ETCDCTL_CERT=" + filepath.Join(pki, "client.crt"), "ETCDCTL_KEY=" + filepath.Join(pki, "client.key")}
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("Env() = %v, want %v", env, want)
	}
	if n := len(get(t, client(t, l), "/registry/secrets/")); n != 5 {
		t.Errorf("over mutual TLS: %d Secrets, want 5", n)
	}
	// A client without a certificate is refused.
	noCert := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsTrusting(t, filepath.Join(pki, "ca.crt"))}}
	if resp, err := noCert.Get(ready.Endpoint + "/health"); err == nil {
		resp.Body.Close()
		t.Fatalf("a client without a certificate got %s; want the TLS handshake refused", resp.Status)
	} else if !strings.Contains(err.Error(), "certificate required") && !strings.Contains(err.Error(), "bad certificate") {
		t.Fatalf("a client without a certificate: %v; want a TLS alert", err)
	}

	// Broken flags: the failure is reported with etcd's log lines.
	broken := strings.Replace(hardened, "/etc/kubernetes/pki/etcd/server.crt", "/etc/kubernetes/pki/etcd/missing.crt", 1)
	writeFile(t, etcdPath, broken)
	waitFor(t, l, lab.EtcdStopped)
	var failed lab.Event
	select {
	case failed = <-l.Events():
	case <-time.After(30 * time.Second):
		t.Fatal("no event after writing broken flags")
	}
	if failed.Kind != lab.EtcdFailed || len(failed.Log) == 0 || !strings.Contains(failed.Err.Error(), etcdPath) {
		t.Fatalf("after broken flags got %s: %v (log %d lines); want a failure naming %s with log lines", failed.Kind, failed.Err, len(failed.Log), etcdPath)
	}
	if !strings.Contains(strings.Join(failed.Log, "\n"), "missing.crt") {
		t.Errorf("failure log does not mention missing.crt:\n%s", strings.Join(failed.Log, "\n"))
	}
	if l.PID() != 0 || l.Endpoint() != "" {
		t.Errorf("after the failure PID=%d Endpoint=%q; want none", l.PID(), l.Endpoint())
	}

	// Fixed: it runs again (etcd may have crash-looped meanwhile).
	writeFile(t, etcdPath, hardened)
	if e := waitForEvent(t, l, lab.EtcdReady); !e.Restart {
		t.Errorf("ready after the fix: %+v", e)
	}
	if n := len(get(t, client(t, l), "/registry/secrets/")); n != 5 {
		t.Errorf("after the fix: %d Secrets, want 5", n)
	}
}

func TestCloseLeavesNothing(t *testing.T) {
	reg := t.TempDir()
	l := startLab(t, lab.Options{Secrets: 3, ConfigMaps: -1, RegistryDir: reg})
	pid, root := l.PID(), l.Root()
	if pid == 0 {
		t.Fatal("no etcd pid")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("etcd pid %d still exists after Close (kill 0: %v)", pid, err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("root %s still exists after Close: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(reg, "current")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("registry pointer still exists after Close: %v", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for range l.Events() { // buffered events, then closed
	}
}

func TestNoOrphanWhenLabDies(t *testing.T) {
	self, _ := os.Executable()
	dir := t.TempDir()
	parent := exec.Command(self, "-test.run=^$")
	parent.Env = append(os.Environ(), parentEnv+"="+dir)
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("lab process said %q", line)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("etcd pid %d is not running: %v", pid, err)
	}
	parent.Process.Kill() // SIGKILL: no Close, no cleanup
	parent.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("etcd pid %d outlived the lab process by 5s: orphaned", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// gone reports whether pid no longer runs (a zombie waiting for init to reap it counts
// as gone).
func gone(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(rest, "Z")
}

func TestCloseKeep(t *testing.T) {
	l := startLab(t, lab.Options{Secrets: 1, ConfigMaps: -1, Keep: true})
	root := l.Root()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, lab.EtcdManifest)); err != nil {
		t.Fatalf("Keep: %v", err)
	}
	st, err := lab.ReadState(root)
	if err != nil || st.EtcdPID != 0 {
		t.Errorf("state after Close = %+v, %v; want EtcdPID 0", st, err)
	}
	if _, err := lab.EnvFor(root); !errors.Is(err, lab.ErrNoLab) || !strings.Contains(err.Error(), "start one with `etcd-harden lab`") {
		t.Errorf("EnvFor on a stopped lab: %v; want ErrNoLab", err)
	}
}

func TestStartRefusesNonEmptyDir(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(keep, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := lab.Start(context.Background(), lab.Options{Dir: dir, EtcdCommand: testCommand(t), RegistryDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "is not empty; choose an empty or new folder") {
		t.Fatalf("Start in a non-empty folder: %v", err)
	}
	if data, err := os.ReadFile(keep); err != nil || string(data) != "mine" {
		t.Fatalf("the folder's file was touched: %q, %v", data, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("Start left %d entries in the folder", len(entries))
	}
}

func TestStartFailureReportsLog(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "root")
	var logs []string
	// An etcd that exits at once: the test binary asked to run an unknown flag.
	cmd := testCommand(t)
	_, err := lab.Start(context.Background(), lab.Options{Dir: dir, RegistryDir: t.TempDir(), ReadyTimeout: 5 * time.Second,
		Log:         func(s string) { logs = append(logs, s) },
		EtcdCommand: func(args []string) *exec.Cmd { return cmd(append(args, "--no-such-flag")) }})
	var se *lab.StartError
	if !errors.As(err, &se) || len(se.Log) == 0 || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("Start with a failing etcd: %v; want a StartError with log lines", err)
	}
	if _, statErr := os.Stat(dir); !errors.Is(statErr, os.ErrNotExist) {
		t.Errorf("the failed lab left its root: %v", statErr)
	}
}

func TestEnvForWithoutLab(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if _, err := lab.EnvFor(""); !errors.Is(err, lab.ErrNoLab) || err.Error() != "no running lab found; start one with `etcd-harden lab`" {
		t.Fatalf("EnvFor with no lab: %v", err)
	}
}

func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		l := startLab(b, lab.Options{Log: func(string) {}})
		if got := l.Seeded().Secrets; got != lab.DefaultSecrets {
			b.Fatalf("seeded %d", got)
		}
		b.StopTimer()
		l.Close()
		b.StartTimer()
	}
}

// tlsTrusting trusts the CA at path and presents no client certificate.
func tlsTrusting(t *testing.T, path string) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(readFile(t, path))) {
		t.Fatalf("%s: no certificate", path)
	}
	return &tls.Config{RootCAs: pool}
}

// TestRestartsEtcdAfterItDies kills the lab's etcd as an OOM killer would: the lab starts
// it again (as a kubelet does), with a back-off that grows while it keeps dying, the data
// is all there, and `lab env` keeps working throughout.
func TestRestartsEtcdAfterItDies(t *testing.T) {
	l := startLab(t, lab.Options{Secrets: 5, ConfigMaps: -1})
	endpoint := l.Endpoint()
	var backoffs []time.Duration
	for range 2 {
		pid := l.PID()
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		failed := waitForEvent(t, l, lab.EtcdFailed)
		if failed.PID != pid || failed.Backoff <= 0 || !strings.Contains(failed.Err.Error(), "the lab starts it again") ||
			!strings.Contains(failed.Err.Error(), "killed") {
			t.Fatalf("after SIGKILL: %+v; want a failure for pid %d that says etcd starts again", failed, pid)
		}
		backoffs = append(backoffs, failed.Backoff)
		if env, err := lab.EnvFor(l.Root()); err != nil || env[0] != "ETCDCTL_ENDPOINTS="+endpoint {
			t.Fatalf("lab env while etcd restarts: %v, %v", env, err)
		}
		ready := waitFor(t, l, lab.EtcdReady)
		if !ready.Restart || ready.PID == pid || ready.Endpoint != endpoint {
			t.Fatalf("ready after the kill: %+v; want a restart on %s with a new pid", ready, endpoint)
		}
	}
	if backoffs[1] <= backoffs[0] {
		t.Errorf("back-offs %v: a second crash in a row must wait longer", backoffs)
	}
	if n := len(get(t, client(t, l), "/registry/secrets/")); n != 5 {
		t.Errorf("after the restarts: %d Secrets, want 5", n)
	}
	env, err := lab.EnvFor(l.Root())
	if err != nil || strings.Join(env, " ") != "ETCDCTL_ENDPOINTS="+endpoint {
		t.Errorf("lab env after the restarts: %v, %v", env, err)
	}
	if st, err := lab.ReadState(l.Root()); err != nil || st.EtcdPID != l.PID() || st.EtcdPID == 0 {
		t.Errorf("state after the restarts: %+v, %v; want etcd pid %d", st, err, l.PID())
	}
}

// waitForEvent reads events until one of kind comes.
func waitForEvent(t *testing.T, l *lab.Lab, kind lab.EventKind) lab.Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-l.Events():
			if e.Kind == kind {
				return e
			}
		case <-timeout:
			t.Fatalf("no %s event within 30s", kind)
		}
	}
}

// TestEnvForDir covers `lab env --dir` on folders that hold no running lab.
func TestEnvForDir(t *testing.T) {
	notLab := t.TempDir()
	missing := filepath.Join(notLab, "nope")
	for _, tc := range []struct {
		dir, want string
		is        error
	}{
		{notLab, notLab + " is not a lab folder: it has no " + lab.StateFile, lab.ErrNotLabFolder},
		{missing, missing + " is not a lab folder: no such folder", lab.ErrNotLabFolder},
	} {
		if _, err := lab.EnvFor(tc.dir); !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("EnvFor(%s) = %v; want %q", tc.dir, err, tc.want)
		}
	}
	l := startLab(t, lab.Options{Secrets: 1, ConfigMaps: -1, Keep: true})
	if env, err := lab.EnvFor(l.Root()); err != nil || len(env) != 1 {
		t.Fatalf("EnvFor on a running kept lab: %v, %v", env, err)
	}
	l.Close()
	_, err := lab.EnvFor(l.Root())
	if !errors.Is(err, lab.ErrNoLab) || !strings.Contains(err.Error(), "the lab in "+l.Root()+" is not running: it stopped at") {
		t.Errorf("EnvFor on a stopped kept lab: %v", err)
	}
}
