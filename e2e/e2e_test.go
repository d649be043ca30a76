// Package e2e drives the whole wizard the way a person does: `etcd-harden lab` in a real
// terminal (tmux), and the same flow with --plain and piped answers. Both end with the
// lab's etcd checked from outside: mutual TLS with the generated client certificate and
// every Secret stored encrypted.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// Screen size of every tmux session: goldens depend on it.
const (
	cols = 100
	rows = 30
)

// waitTimeout bounds each wait for a screen or an output line.
const waitTimeout = 30 * time.Second

// secretPrefix is how kube-apiserver's secretbox transformer starts a stored value.
const secretPrefix = "k8s:enc:secretbox:v1:"

var (
	buildDir  string
	buildOnce = sync.OnceValues(buildBinary)
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds etcd-harden once per test run, with the go of `go env GOROOT`.
func binary(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	if err != nil {
		t.Fatalf("build etcd-harden: %v", err)
	}
	return bin
}

func buildBinary() (string, error) {
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %w", err)
	}
	gobin := filepath.Join(strings.TrimSpace(string(goroot)), "bin", "go")
	if buildDir, err = os.MkdirTemp("", "etcd-harden-e2e-bin-"); err != nil {
		return "", err
	}
	bin := filepath.Join(buildDir, "etcd-harden")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Dir = ".." // the module root: package main
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, out)
	}
	return bin, nil
}

// labRoot returns a new lab root of fixed length (/tmp/eh-e2e-NNNNNN) that does not exist
// yet, so that screens wrap the same on every run; it is removed after the test.
func labRoot(t *testing.T) string {
	t.Helper()
	for range 100 {
		root := fmt.Sprintf("/tmp/eh-e2e-%06d", rand.IntN(1_000_000))
		if _, err := os.Lstat(root); errors.Is(err, os.ErrNotExist) {
			t.Cleanup(func() {
				// After a failure the lab dies with its tmux server: let its etcd go first.
				dataDir := filepath.Join(root, filepath.FromSlash(lab.EtcdDataDir))
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
					if exec.Command("pgrep", "-f", dataDir).Run() != nil {
						break
					}
				}
				os.RemoveAll(root)
			})
			return root
		}
	}
	t.Fatal("no free /tmp/eh-e2e-NNNNNN name")
	return ""
}

// normalRoot is what labRoot's paths become in goldens: the same length.
const normalRoot = "/tmp/eh-e2e-000000"

var normalizers = []struct {
	re   *regexp.Regexp
	with func(string) string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d{4,5}`), fixed("127.0.0.1:00000")},
	{regexp.MustCompile(`\b\d{8}-\d{6}\.\d{3}\b`), fixed("20261128-000000.000")},
	{regexp.MustCompile(`\b\d{8}T\d{6}Z\b`), fixed("20261128T000000Z")},
	{regexp.MustCompile(`\b20\d{6}\b`), fixed("20261128")},
	{regexp.MustCompile(`\b20\d\d-\d\d-\d\d\b`), fixed("2026-11-28")},
	{regexp.MustCompile(`\b\d\d:\d\d:\d\d\b`), fixed("00:00:00")},
	{regexp.MustCompile(`in \d+ days`), zeros},
	{regexp.MustCompile(`pid \d+`), zeros},
	{regexp.MustCompile(`sha256 [0-9a-f]+`), zeros},
	// Speeds and timings change length from run to run; they stand on lines that do not wrap.
	{regexp.MustCompile(`\d+(\.\d+)? ?[KMGT]?i?B/s\b`), fixed("XX.X MiB/s")},
	{regexp.MustCompile(`(took\s+|· )\d+(\.\d+)?(ns|µs|ms|s)\b`), func(m string) string {
		return durationRE.ReplaceAllString(m, "XXms")
	}},
	{regexp.MustCompile(`\d+(\.\d+)? ?(B|KiB|MiB|GiB|TiB)\b`), zeros},
	{regexp.MustCompile(`room for \d+ snapshots`), zeros},
	// Line counts of new PEM files vary with the length of ECDSA signatures.
	{regexp.MustCompile(`[+−]\d+ [+−]\d+`), zeros},
	{regexp.MustCompile(`lines \d+–\d+ of \d+`), zeros},
	{regexp.MustCompile(`\d+ pages`), zeros},
	{regexp.MustCompile(`[\x{2800}-\x{28FF}]`), fixed("⠿")},
	// The lab's crash loop counts on; its line does not wrap.
	{regexp.MustCompile(`CrashLoopBackOff \(restarted [^,]+, next start [^)]+\)`), fixed("CrashLoopBackOff (restarted N times, next start in Ns)")},
}

var durationRE = regexp.MustCompile(`\d+(\.\d+)?(ns|µs|ms|s)$`)

func fixed(s string) func(string) string { return func(string) string { return s } }

// zeros keeps a match's length and letters and turns its digits into 0s.
func zeros(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '0'
		}
		return r
	}, s)
}

// normalize replaces what changes from run to run with values of the same length, so
// that wrapping stays as the program drew it.
func normalize(screen, root string) string {
	screen = strings.ReplaceAll(screen, root, normalRoot)
	for _, n := range normalizers {
		screen = n.re.ReplaceAllStringFunc(screen, n.with)
	}
	return screen
}

// tmuxSession is one detached tmux server of its own (tmux -L), so that a test never
// touches another tmux server.
type tmuxSession struct {
	t      *testing.T
	socket string
}

// startTmux runs command in a new detached session of cols×rows and kills the server when
// the test ends.
func startTmux(t *testing.T, command string) *tmuxSession {
	t.Helper()
	s := &tmuxSession{t: t, socket: fmt.Sprintf("eh-e2e-%d-%d", os.Getpid(), rand.IntN(1_000_000))}
	if out, err := s.tmux("new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), command); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.tmux("kill-server") })
	return s
}

func (s *tmuxSession) tmux(args ...string) ([]byte, error) {
	args = append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)
	return exec.Command("tmux", args...).CombinedOutput()
}

// send types keys (tmux key names: Enter, Left, NPage, or literal text).
func (s *tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := s.tmux(append([]string{"send-keys", "-t", "e2e"}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %q: %v\n%s", keys, err, out)
	}
}

// capture returns the visible screen as text, without colours.
func (s *tmuxSession) capture() string {
	out, err := s.tmux("capture-pane", "-p", "-t", "e2e")
	if err != nil {
		return fmt.Sprintf("(capture-pane failed: %v: %s)", err, out)
	}
	return string(out)
}

// waitFor polls the screen every 100 ms until every one of want is on it, and returns
// that screen once it has stopped changing (apart from a spinner).
func (s *tmuxSession) waitFor(want ...string) string {
	s.t.Helper()
	screen, ok := s.poll(waitTimeout, want...)
	if !ok {
		s.t.Fatalf("after %s the screen still lacks %q; it shows:\n%s", waitTimeout, want, screen)
	}
	return s.settle(screen)
}

// poll is waitFor without failing the test.
func (s *tmuxSession) poll(timeout time.Duration, want ...string) (string, bool) {
	deadline := time.Now().Add(timeout)
	for {
		screen := s.capture()
		if containsAll(screen, want) {
			return screen, true
		}
		if time.Now().After(deadline) {
			return screen, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle waits until two captures 150 ms apart agree once spinner glyphs are ignored.
func (s *tmuxSession) settle(screen string) string {
	spin := regexp.MustCompile(`[\x{2800}-\x{28FF}]`)
	for range 20 {
		time.Sleep(150 * time.Millisecond)
		next := s.capture()
		if spin.ReplaceAllString(next, "") == spin.ReplaceAllString(screen, "") {
			return next
		}
		screen = next
	}
	return screen
}

// cropAfter keeps the lines of screen up to the first one that contains marker.
func cropAfter(screen, marker string) string {
	lines := strings.SplitAfter(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, marker) {
			return strings.Join(lines[:i+1], "")
		}
	}
	return screen
}

func containsAll(s string, want []string) bool {
	for _, w := range want {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}

// checkGolden compares a normalised screen with testdata/<Test>/<name>.golden as a
// subtest, so that a changed screen is reported and the walk goes on.
func checkGolden(t *testing.T, name, screen, root string) {
	t.Helper()
	t.Run(name, func(t *testing.T) { golden.RequireEqual(t, normalize(screen, root)) })
}

func requireTools(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	if runtime.GOOS != "linux" {
		t.Skip("end-to-end tests run on Linux")
	}
}

func requireTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux is not installed (apt-get install tmux; .ci/run installs it)")
	}
}

// TestWizardInTmux walks the whole lab wizard in a real terminal: secretbox, generated
// certificates, apply, a backup test, and the lab's Secret rewrite; then checks etcd from
// outside and that the lab stops cleanly.
func TestWizardInTmux(t *testing.T) {
	requireTools(t)
	requireTmux(t)
	bin := binary(t)
	root := labRoot(t)
	tmp := t.TempDir()
	exitFile := filepath.Join(tmp, "exit")
	// NO_COLOR would turn the terminal UI into plain text; XDG_RUNTIME_DIR keeps the lab's
	// "current" pointer away from a lab the user runs. The exit code goes to a file and the
	// pane stays for the last capture.
	command := fmt.Sprintf("env -u NO_COLOR XDG_RUNTIME_DIR=%s %s lab --dir %s --keep; echo $? > %s; sleep 60", tmp, bin, root, exitFile)
	s := startTmux(t, command)

	screen := s.waitFor("Step 1 of 6", "enter next")
	checkGolden(t, "01-preflight", screen, root)

	s.send("Enter")
	screen = s.waitFor("Step 2 of 6", "┃ Provider of the new key", "> secretbox")
	checkGolden(t, "02-encryption-provider", screen, root)
	s.send("Enter")
	screen = s.waitFor("┃ Resources to encrypt", "✓ secrets")
	checkGolden(t, "03-encryption-resources", screen, root)
	s.send("Enter")
	s.waitFor("┃ Other resources")
	s.send("Enter")
	s.waitFor("┃ Key name", "key-")
	s.send("Enter")
	s.waitFor("┃ Reload the config automatically?")
	s.send("Enter")
	screen = s.waitFor("provider", "secretbox (XSalsa20-Poly1305)", "r reveal key")
	checkGolden(t, "04-encryption-plan", screen, root)

	s.send("Enter")
	screen = s.waitFor("Step 3 of 6", "┃ Certificates", "> auto", "leaf certificates for 1 year.", "(recommended)")
	checkGolden(t, "05-certs-mode", screen, root)
	for _, field := range []string{"┃ Key type of new keys", "┃ Node name", "┃ Advertise IP", "┃ Change a path?"} {
		s.send("Enter")
		s.waitFor(field)
	}
	s.send("Enter")
	screen = s.waitFor("As the plan leaves them:", "apiserver-etcd-client.crt (generated)")
	checkGolden(t, "06-certs-plan", screen, root)

	s.send("Enter")
	screen = s.waitFor("Step 4 of 6", "a apply")
	checkGolden(t, "07-review", screen, root)
	s.send("a")
	screen = s.waitFor("Apply 13 file changes", "Not now")
	checkGolden(t, "08-review-confirm", screen, root)
	s.send("Left")
	s.send("Enter")
	screen = s.waitFor("applied  13 files", "backup ", "undo ")
	checkGolden(t, "09-review-applied", screen, root)

	s.send("Enter")
	screen = s.waitFor("Step 5 of 6", "┃ Where should snapshots go?", root+"/var/backups/etcd")
	checkGolden(t, "10-backup-form", screen, root)
	s.send("Enter")
	s.waitFor("┃ Show a schedule for regular snapshots?", "> No")
	s.send("Enter")
	screen = s.waitFor("storage version", "✓ dest    free space", "enter next")
	// Below this line the numbers depend on the disk (free space, room for N snapshots)
	// and change how the lines wrap.
	checkGolden(t, "11-backup-result", cropAfter(screen, "free space"), root)
	s.send("NPage", "NPage")
	s.waitFor("✓ verify  same data as the member")

	s.send("Enter")
	screen = s.waitFor("Step 6 of 6", "w rewrite Secrets")
	checkGolden(t, "12-summary", screen, root)
	s.send("w")
	// The rewrite's result comes first, above the summary.
	screen = s.waitFor("plaintext (secretbox:", "enter finish")
	checkGolden(t, "13-summary-rewritten", screen, root)
	if !regexp.MustCompile(`after\s+240 values: 200 encrypted, 40 plaintext \(secretbox:key-\d{8} ×200\)`).MatchString(screen) {
		t.Errorf("the summary's status after the rewrite is not 200 Secrets under secretbox:\n%s", screen)
	}

	state, err := lab.ReadState(root)
	if err != nil {
		t.Fatalf("read the lab's state: %v", err)
	}
	checkEncrypted(t, liveSecrets(t, etcdClient(t, root)))

	s.send("Enter")
	code := waitExit(t, s, exitFile)
	if code != "0" {
		t.Errorf("etcd-harden lab exited %s, want 0; the screen:\n%s", code, s.capture())
	}
	checkStopped(t, root, state.EtcdPID)
	removeRoot(t, root)
}

// waitExit waits for the tmux command to write the exit code of etcd-harden.
func waitExit(t *testing.T, s *tmuxSession, exitFile string) string {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		if data, err := os.ReadFile(exitFile); err == nil && bytes.HasSuffix(data, []byte("\n")) {
			return strings.TrimSpace(string(data))
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd-harden did not exit within %s; the screen:\n%s", waitTimeout, s.capture())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkStopped asserts that the lab's etcd is gone and that --keep kept the root.
func checkStopped(t *testing.T, root string, etcdPID int) {
	t.Helper()
	if etcdPID == 0 {
		t.Errorf("the lab's state named no etcd pid while etcd ran")
	} else if err := syscall.Kill(etcdPID, 0); err == nil {
		t.Errorf("etcd (pid %d) still runs after the lab ended", etcdPID)
	}
	// etcd runs with --data-dir under the root; the tmux shell names the root too.
	dataDir := filepath.Join(root, filepath.FromSlash(lab.EtcdDataDir))
	if out, err := exec.Command("pgrep", "-af", dataDir).Output(); err == nil {
		t.Errorf("processes still run with the lab's data dir %s after the lab ended:\n%s", dataDir, out)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(lab.EtcdManifest))); err != nil {
		t.Errorf("--keep did not keep the lab root: %v", err)
	}
}

// removeRoot removes the kept lab root.
func removeRoot(t *testing.T, root string) {
	t.Helper()
	if err := os.RemoveAll(root); err != nil {
		t.Errorf("remove the kept lab root: %v", err)
	}
}

// apiserverFlags reads kube-apiserver.yaml's --etcd-* flags as the wizard left them.
func apiserverFlags(t *testing.T, root string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(lab.APIServerFile)))
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s*- --(etcd-[a-z]+)=(\S+)\s*$`).FindAllStringSubmatch(string(data), -1) {
		flags[m[1]] = m[2]
	}
	for _, f := range []string{"etcd-servers", "etcd-cafile", "etcd-certfile", "etcd-keyfile"} {
		if flags[f] == "" {
			t.Fatalf("kube-apiserver.yaml has no --%s after the wizard:\n%s", f, data)
		}
	}
	return flags
}

// etcdClient connects to etcd the way kube-apiserver now does: kube-apiserver.yaml's
// --etcd-servers with its --etcd-cafile, --etcd-certfile and --etcd-keyfile (host paths
// under root). It asserts that etcd answers over mutual TLS and refuses a client without a
// certificate.
func etcdClient(t *testing.T, root string) *clientv3.Client {
	t.Helper()
	flags := apiserverFlags(t, root)
	endpoint := flags["etcd-servers"]
	if !strings.HasPrefix(endpoint, "https://127.0.0.1:") {
		t.Fatalf("--etcd-servers=%s, want https on loopback", endpoint)
	}
	host := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	withCert, err := transport.TLSInfo{CertFile: host(flags["etcd-certfile"]), KeyFile: host(flags["etcd-keyfile"]),
		TrustedCAFile: host(flags["etcd-cafile"])}.ClientConfig()
	if err != nil {
		t.Fatalf("client TLS from kube-apiserver.yaml's files: %v", err)
	}
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: withCert, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("connect to %s with the apiserver-etcd-client certificate: %v", endpoint, err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Get(ctx, "health", clientv3.WithKeysOnly()); err != nil {
		t.Fatalf("etcd at %s does not answer over mutual TLS with the apiserver-etcd-client certificate: %v", endpoint, err)
	}

	noCert, err := transport.TLSInfo{TrustedCAFile: host(flags["etcd-cafile"])}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	anon, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, TLS: noCert, DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err == nil {
		defer anon.Close()
		actx, acancel := context.WithTimeout(ctx, 3*time.Second)
		defer acancel()
		if _, err = anon.Get(actx, "/registry/secrets/", clientv3.WithPrefix(), clientv3.WithKeysOnly()); err == nil {
			t.Errorf("etcd at %s served a client without a certificate", endpoint)
		}
	}
	return c
}

// liveSecrets reads every Secret from the running etcd.
func liveSecrets(t *testing.T, c *clientv3.Client) map[string][]byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Get(ctx, "/registry/secrets/", clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("read /registry/secrets/ over mutual TLS: %v", err)
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		out[string(kv.Key)] = kv.Value
	}
	return out
}

// storedSecrets reads every Secret's newest value straight from the data dir of a
// stopped etcd: the bbolt "key" bucket holds one mvccpb.KeyValue per revision, in order,
// and a key ending in 't' is a deletion.
func storedSecrets(t *testing.T, root string) map[string][]byte {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(lab.EtcdDataDir), "member", "snap", "db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("open etcd's data file %s: %v", path, err)
	}
	defer db.Close()
	out := map[string][]byte{}
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		if b == nil {
			return errors.New("no \"key\" bucket")
		}
		return b.ForEach(func(rev, data []byte) error {
			var kv mvccpb.KeyValue
			if err := proto.Unmarshal(data, &kv); err != nil {
				return fmt.Errorf("revision %x: %w", rev, err)
			}
			if !strings.HasPrefix(string(kv.Key), "/registry/secrets/") {
				return nil
			}
			if len(rev) > 17 && rev[17] == 't' {
				delete(out, string(kv.Key))
			} else {
				out[string(kv.Key)] = kv.Value
			}
			return nil
		})
	})
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return out
}

// checkEncrypted asserts that every Secret is stored with the secretbox prefix.
func checkEncrypted(t *testing.T, secrets map[string][]byte) {
	t.Helper()
	if len(secrets) == 0 {
		t.Fatal("no Secrets under /registry/secrets/")
	}
	plain := 0
	for k, v := range secrets {
		if !bytes.HasPrefix(v, []byte(secretPrefix)) {
			if plain++; plain <= 3 {
				t.Errorf("%s is stored as %.40q…, want the %s prefix", k, v, secretPrefix)
			}
		}
	}
	if plain > 0 {
		t.Errorf("%d of %d Secrets are not encrypted with secretbox", plain, len(secrets))
	}
}

// backupPrompt is the backup step's first question: the plan is applied by then.
const backupPrompt = "Where should snapshots go?"

// plainAnswers answers the plain wizard's prompts, by the start of the prompt's line.
// Prompts not listed get an empty line (the default).
func plainAnswers(root string) []struct{ prompt, answer string } {
	return []struct{ prompt, answer string }{
		{"Provider of the new key", "1"},
		{"Resources to encrypt", "0"},
		{"Reload the config automatically?", "n"},
		{"Certificates", "1"},
		{"Key type of new keys", "1"},
		{"Change a path?", "1"},
		{"What now?", "1"},
		{backupPrompt, root + "/var/backups/etcd"},
		{"Show a schedule for regular snapshots?", "1"},
		{"How many snapshots should the schedule keep?", "5"},
		{"Write the schedule files into the destination folder?", "n"},
	}
}

// transcript collects a process's output and tells when it waits at a prompt.
type transcript struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	last time.Time
}

func (w *transcript) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.last = time.Now()
	return w.buf.Write(p)
}

func (w *transcript) snapshot() (string, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String(), w.last
}

// TestWizardPlainPiped runs the same flow with --plain and the answers typed into a pipe
// as the prompts come, and checks the same end state. The lab's Secret rewrite has no
// prompt (the terminal UI's `w` key): it comes from an answers file.
func TestWizardPlainPiped(t *testing.T) {
	requireTools(t)
	bin := binary(t)
	if help, _ := exec.Command(bin, "--help").CombinedOutput(); !bytes.Contains(help, []byte("--answers")) {
		t.Skip("this etcd-harden has no --answers flag: the plain run cannot ask for the Secret rewrite")
	}
	root := labRoot(t)
	answersFile := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(answersFile, []byte("summary.rewrite: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "lab", "--dir", root, "--keep", "--plain", "--answers", answersFile)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color", "XDG_RUNTIME_DIR="+t.TempDir())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut transcript
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var stateSeen lab.State
	var waitErr error
	answered, sent, tlsChecked := 0, 0, false
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case waitErr = <-exited:
			break loop
		case <-tick.C:
		}
		if stateSeen.EtcdPID == 0 {
			stateSeen, _ = lab.ReadState(root)
		}
		text, last := out.snapshot()
		// A prompt is a last line with no newline after it, and no output for a moment.
		if strings.HasSuffix(text, "\n") || len(text) == answered || time.Since(last) < 150*time.Millisecond {
			continue
		}
		prompt, answer := promptAnswer(text[answered:], plainAnswers(root))
		if prompt == backupPrompt && !tlsChecked {
			// Applied and not finished: etcd runs with the new flags now.
			etcdClient(t, root)
			tlsChecked = true
		}
		if sent++; sent > 40 {
			t.Fatalf("more than 40 prompts: a prompt keeps refusing its answer; output:\n%s", text)
		}
		answered = len(text)
		t.Logf("prompt %q ← %q", lastLine(text), answer)
		if _, err := io.WriteString(stdin, answer+"\n"); err != nil {
			t.Fatalf("write answer %q: %v", answer, err)
		}
	}
	stdin.Close()
	text, _ := out.snapshot()
	logs, _ := errOut.snapshot()
	if waitErr != nil {
		t.Fatalf("etcd-harden lab --plain: %v\nstdout:\n%s\nstderr:\n%s", waitErr, text, logs)
	}
	if strings.ContainsRune(text+logs, '\x1b') {
		t.Errorf("plain output has escape codes: %q", firstEscape(text+logs))
	}
	for i, title := range []string{"Preflight", "Encryption at rest", "Certificates", "Review", "Backup", "Summary"} {
		if h := fmt.Sprintf("Step %d of 6: %s", i+1, title); !strings.Contains(text, h) {
			t.Errorf("plain output lacks the header %q", h)
		}
	}
	for _, want := range []string{"1. secretbox", "applied: 13 files", "[PASS] verify same data as the member",
		"after: 240 values: 200 encrypted, 40 plaintext (secretbox:key-"} {
		if !strings.Contains(text, want) {
			t.Errorf("plain output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", text)
	}
	if !tlsChecked {
		t.Error("the backup step never asked where snapshots go: mutual TLS was not checked while etcd ran")
	}
	checkStopped(t, root, stateSeen.EtcdPID)
	// The lab has stopped etcd: read what it stored from its data file.
	stored := storedSecrets(t, root)
	checkEncrypted(t, stored)
	t.Logf("%d Secrets in etcd's data file, all under %s", len(stored), secretPrefix)
	removeRoot(t, root)
}

// promptAnswer picks the newest prompt in out and its answer.
func promptAnswer(out string, answers []struct{ prompt, answer string }) (prompt, answer string) {
	bestAt := -1
	sc := bufio.NewScanner(strings.NewReader(out))
	offset := 0
	for sc.Scan() {
		line := sc.Text()
		for _, a := range answers {
			if strings.HasPrefix(line, a.prompt) && offset >= bestAt {
				prompt, answer, bestAt = a.prompt, a.answer, offset
			}
		}
		offset += len(line) + 1
	}
	return prompt, answer
}

func lastLine(s string) string { return s[strings.LastIndexByte(s, '\n')+1:] }

func firstEscape(s string) string {
	i := strings.IndexRune(s, '\x1b')
	return s[max(0, i-40):min(len(s), i+40)]
}

// TestStartupTime logs how long the wizard takes from its start in a terminal to the first
// frame of step 1, in the lab (which lays out a tree and starts etcd first) and on a
// prepared root. It only logs: times depend on the machine.
func TestStartupTime(t *testing.T) {
	requireTools(t)
	requireTmux(t)
	bin := binary(t)
	const runs = 5
	tmp := t.TempDir()

	root := filepath.Join(tmp, "root")
	ports, err := lab.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Layout(root, ports); err != nil {
		t.Fatal(err)
	}
	measure := func(name string, command func(i int) string) {
		var total, worst time.Duration
		for i := range runs {
			d := firstFrame(t, command(i))
			total += d
			worst = max(worst, d)
		}
		t.Logf("%s: first frame of step 1 after %v on average over %d runs (slowest %v)",
			name, (total / runs).Round(time.Millisecond), runs, worst.Round(time.Millisecond))
	}
	measure("etcd-harden lab", func(i int) string {
		return fmt.Sprintf("env -u NO_COLOR XDG_RUNTIME_DIR=%s %s lab --dir %s", tmp, bin, filepath.Join(tmp, fmt.Sprint("lab", i)))
	})
	measure("etcd-harden --root (unhardened tree, no etcd running)", func(int) string {
		return fmt.Sprintf("env -u NO_COLOR %s --root %s", bin, root)
	})
}

// firstFrame starts command in a new tmux session and returns the time until step 1 is
// on the screen; then it quits the wizard (q, y) and waits for it to end.
func firstFrame(t *testing.T, command string) time.Duration {
	t.Helper()
	done := filepath.Join(t.TempDir(), "done")
	start := time.Now()
	s := startTmux(t, command+"; touch "+done+"; sleep 60")
	var took time.Duration
	for {
		if strings.Contains(s.capture(), "Step 1 of 6") {
			took = time.Since(start)
			break
		}
		if time.Since(start) > waitTimeout {
			t.Fatalf("no first frame after %s; the screen:\n%s", waitTimeout, s.capture())
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.waitFor("q quit")
	s.send("q")
	s.waitFor("y")
	s.send("y")
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(done); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the wizard did not quit on q, y; the screen:\n%s", s.capture())
		}
	}
	s.tmux("kill-server")
	return took
}

// TestPlainCtrlCInTmux: under TERM=dumb (plain mode) Ctrl-C at a numbered prompt used to
// echo ^C and wait for the rest of the form. It aborts at once: exit 130, nothing written.
func TestPlainCtrlCInTmux(t *testing.T) {
	requireTools(t)
	requireTmux(t)
	bin := binary(t)
	root := steptest.Root(t, "unhardened")
	work := t.TempDir() // the working folder, where "save" would write
	exitFile := filepath.Join(t.TempDir(), "exit")
	before := steptest.Tree(t, root)
	s := startTmux(t, fmt.Sprintf("cd %s && env -u NO_COLOR TERM=dumb %s --root %s; echo $? > %s; sleep 60", work, bin, root, exitFile))
	s.waitFor("Provider of the new key", "Enter a number between 1 and 4:")
	s.send("C-c")
	if code := waitExit(t, s, exitFile); code != "130" {
		t.Errorf("exit %s after Ctrl-C, want 130", code)
	}
	if screen := s.capture(); !strings.Contains(screen, "Error: interrupted (Ctrl-C): aborted, nothing was written") {
		t.Errorf("the screen lacks the abort:\n%s", screen)
	}
	steptest.SameTree(t, root, before)
	if entries, _ := os.ReadDir(work); len(entries) > 0 {
		t.Errorf("%s was written in the working folder", entries[0].Name())
	}
}
