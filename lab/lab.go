// Package lab is etcd-harden's sandbox: a kubeadm-like tree in a folder, with etcd.yaml
// and kube-apiserver.yaml as kubeadm writes them but not hardened, and a real etcd run
// from etcd.yaml's flags (the binary runs etcd itself through etcdmain, host paths mapped
// under the root). Like a kubelet, the lab restarts etcd when etcd.yaml changes and
// reports when the new flags do not work. It seeds Secrets and ConfigMaps the way
// kube-apiserver stores them, and stands in for kube-apiserver when Secrets must be
// rewritten under a new encryption config (RewriteSecrets).
//
// etcd counts as started when GET <client URL>/health answers {"health":"true"} within
// Options.ReadyTimeout. Over https the lab tries kube-apiserver.yaml's --etcd-* client
// pair, then etcd's own server pair (kubeadm issues it for clientAuth too), then a
// client with no certificate: a TLS alert such as "certificate required" from etcd also
// counts, since it shows etcd is up and enforcing mutual TLS. etcd that exits (killed,
// crashed, refusing its flags) or does not answer in time after a start is reported as
// an EtcdFailed Event and started again after a back-off that doubles while it keeps
// dying (0.5 s up to 10 s), as a kubelet's CrashLoopBackOff restarts a container; a change
// to etcd.yaml starts it at once. Lab.Pod counts the restarts and keeps etcd's last
// error line. An etcd.yaml that does not parse waits for a fixed file.
package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
	"github.com/etcd-harden/etcd-harden/internal/selfexec"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Options choose how a lab starts. The zero value is a lab in a new temp folder with
// DefaultSecrets Secrets and DefaultConfigMaps ConfigMaps.
type Options struct {
	// Dir is the root; it must be empty or not exist. A new temp folder when empty.
	Dir string
	// Keep leaves the root in place on Close.
	Keep bool
	// Secrets and ConfigMaps are how many objects to seed: 0 means the default,
	// a negative number none.
	Secrets, ConfigMaps int
	// Log receives one-line progress messages and every Event as a line; may be nil.
	Log func(string)
	// EtcdCommand makes the command that runs etcd with the given flags. Default:
	// this executable's hidden EtcdSubcommand (selfexec.Command). Tests point it at the
	// test binary.
	EtcdCommand func(args []string) *exec.Cmd
	// ReadyTimeout is how long etcd may take to answer after a start (default 10 s).
	ReadyTimeout time.Duration
	// RegistryDir holds the "current" pointer to the running lab (default RegistryDir()).
	RegistryDir string
	// Scenario names the training scenario to lay out (default DefaultScenario);
	// NoHints leaves the hints out of its BRIEF.md.
	Scenario string
	NoHints  bool
}

// Lab is a running sandbox. Its methods are safe for concurrent use.
type Lab struct {
	root     string
	keep     bool
	registry string
	log      func(string)
	r        *runner
	events   chan Event
	cancel   context.CancelFunc
	loopDone chan struct{}
	started  time.Time
	seeded   Seeded
	scenario string

	closeOnce sync.Once
	closeErr  error
}

// ErrNoLab means no running lab was found.
var ErrNoLab = errors.New("no running lab found; start one with `etcd-harden lab`")

// ErrNotLabFolder means a folder given as a lab's root is not one.
var ErrNotLabFolder = errors.New("not a lab folder")

// labError is an error with its own words that matches a sentinel (ErrNoLab,
// ErrNotLabFolder) under errors.Is.
type labError struct {
	kind error
	msg  string
}

func (e *labError) Error() string        { return e.msg }
func (e *labError) Is(target error) bool { return target == e.kind }

// Start lays out the lab tree, starts etcd from etcd.yaml, waits until it answers,
// seeds it, and writes the state file and the registry pointer. ctx bounds the start
// only; the lab runs until Close. On error nothing is left running and the root is
// removed (unless Keep).
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	sc, err := FindScenario(opts.Scenario)
	if err != nil {
		return nil, err
	}
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	root, err := makeRoot(opts.Dir)
	if err != nil {
		return nil, err
	}
	l = &Lab{root: root, keep: opts.Keep, registry: opts.RegistryDir, log: opts.Log,
		events: make(chan Event, 64), loopDone: make(chan struct{}), started: time.Now()}
	self := l
	defer func() {
		if err != nil {
			self.Close()
		}
	}()
	command := opts.EtcdCommand
	ports, err := FreePorts()
	if err != nil {
		return nil, err
	}
	caPEM, err := Layout(root, ports)
	if err != nil {
		return nil, err
	}
	if err := layScenario(root, sc); err != nil {
		return nil, err
	}
	l.log(fmt.Sprintf("lab tree laid out in %s (etcd client port %d)", root, ports.Client))
	l.newRunner(command, orDefault(opts.ReadyTimeout, 10*time.Second))
	if err := l.startEtcd(ctx, false); err != nil {
		return nil, fmt.Errorf("start the lab's etcd: %w", err)
	}
	if l.seeded, err = l.seed(ctx, opts, caPEM); err != nil {
		return nil, err
	}
	l.log(fmt.Sprintf("seeded %d Secrets and %d ConfigMaps in plaintext under /registry/", l.seeded.Secrets, l.seeded.ConfigMaps))
	if err = l.finishScenario(ctx, sc, !opts.NoHints); err != nil {
		return nil, err
	}
	if err = l.writeState(); err != nil {
		return nil, err
	}
	if err = l.writePointer(); err != nil {
		return nil, err
	}
	return l, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func count(n, def int) int {
	if n == 0 {
		return def
	}
	return max(n, 0)
}

// makeRoot creates the root: dir (empty or absent) or a new temp folder.
func makeRoot(dir string) (string, error) {
	if dir == "" {
		root, err := os.MkdirTemp("", "etcd-harden-lab-")
		if err != nil {
			return "", fmt.Errorf("make the lab's temp folder: %w", err)
		}
		return root, nil
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("lab folder %s: %w", dir, err)
	}
	entries, err := os.ReadDir(root)
	if err == nil && len(entries) > 0 {
		return "", fmt.Errorf("lab folder %s is not empty; choose an empty or new folder (the lab removes it on exit unless --keep)", root)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("lab folder %s: %w", root, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("make the lab folder: %w", err)
	}
	return root, nil
}

func (l *Lab) seed(ctx context.Context, opts Options, caPEM []byte) (Seeded, error) {
	c, err := l.Client()
	if err != nil {
		return Seeded{}, err
	}
	defer c.Close()
	return Seed(ctx, c, count(opts.Secrets, DefaultSecrets), count(opts.ConfigMaps, DefaultConfigMaps), caPEM)
}

// emit logs e and queues it on Events, dropping the oldest queued event when no one
// reads them. A crash loop is logged on its 1st, 2nd, 4th, 8th… restart only: every
// restart is an Event, but the log would fill with the same line.
func (l *Lab) emit(e Event) {
	if n := e.Restarts; e.Kind != EtcdFailed || n&(n-1) == 0 {
		l.log(e.String())
	}
	for {
		select {
		case l.events <- e:
			return
		default:
		}
		select {
		case <-l.events:
		default:
		}
	}
}

// Root returns the lab's root folder (the --root for the other commands).
func (l *Lab) Root() string { return l.root }

// Endpoint returns the client URL of the running etcd, "" while it is not running.
func (l *Lab) Endpoint() string {
	e, _ := l.r.running()
	return e
}

// PID returns the running etcd's pid, 0 while it is not running.
func (l *Lab) PID() int {
	_, p := l.r.running()
	return p
}

// Pod returns etcd as the lab's kubelet sees it now: its restarts since etcd.yaml last
// changed, its last error line, and when a crash-looping etcd starts again.
func (l *Lab) Pod() PodStatus { return l.r.podStatus() }

// Seeded returns what Start seeded.
func (l *Lab) Seeded() Seeded { return l.seeded }

// Events returns the restarts and failures of etcd, in order. Unread events are
// dropped oldest first past 64. The channel is closed by Close.
func (l *Lab) Events() <-chan Event { return l.events }

// Env returns the ETCDCTL_* variables for the lab as it is now (see EnvFor).
func (l *Lab) Env() ([]string, error) { return envFromRoot(l.root) }

// Conn is how to reach the lab's etcd as it is now: the ETCDCTL_* variables of Env.
func (l *Lab) Conn() (etcdconn.Conn, error) {
	env, err := l.Env()
	if err != nil {
		return etcdconn.Conn{}, err
	}
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return etcdconn.FromFlags([]string{vars["ETCDCTL_ENDPOINTS"]}, vars["ETCDCTL_CACERT"], vars["ETCDCTL_CERT"], vars["ETCDCTL_KEY"]), nil
}

// ClientConfig returns an etcd client configuration built from Env.
func (l *Lab) ClientConfig() (clientv3.Config, error) {
	c, err := l.Conn()
	if err != nil {
		return clientv3.Config{}, err
	}
	cfg, err := c.ClientConfig()
	if err != nil {
		return cfg, fmt.Errorf("client TLS for the lab's etcd: %w", err)
	}
	return cfg, nil
}

// Client returns a new etcd client for the lab after the project's connection check
// (see etcdconn.Conn.Client), so that a lab etcd that does not answer is named in
// seconds; the caller closes it.
func (l *Lab) Client() (*clientv3.Client, error) {
	c, err := l.Conn()
	return checkedClient(c, err, "the lab's etcd")
}

// checkedClient dials conn (when err, from making it, is nil) after the project's
// connection check; what names the etcd in the error.
func checkedClient(conn etcdconn.Conn, err error, what string) (*clientv3.Client, error) {
	if err != nil {
		return nil, err
	}
	cli, err := conn.Client(context.Background())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return cli, nil
}

// Close stops etcd (SIGTERM to its process group, SIGKILL after 5 s), removes the
// registry pointer, and removes the root unless Keep. It is safe to call more than once
// and from another goroutine (a signal handler); later calls return the first result.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		if l.cancel != nil {
			l.cancel()
		}
		if l.r != nil {
			<-l.loopDone
			l.r.stop() // when Start failed before the loop ran
		}
		close(l.events)
		l.removePointer()
		if l.keep {
			l.closeErr = l.writeStateAt(time.Now())
			l.log("lab stopped; its tree is kept in " + l.root)
			return
		}
		l.closeErr = l.removeRoot()
	})
	return l.closeErr
}

func (l *Lab) removeRoot() error {
	if l.keep {
		return nil
	}
	if err := os.RemoveAll(l.root); err != nil {
		return fmt.Errorf("remove the lab folder %s: %w", l.root, err)
	}
	return nil
}

// State is the lab's state file (StateFile under the root), for other shells.
type State struct {
	PID      int       `json:"pid"`     // the lab process
	EtcdPID  int       `json:"etcdPid"` // 0 when etcd is not running
	Endpoint string    `json:"endpoint"`
	Root     string    `json:"root"`
	Log      string    `json:"log"`
	Started  time.Time `json:"started"`
	Stopped  time.Time `json:"stopped,omitzero"` // set by Close: the lab no longer runs
	// EtcdPod is etcd as the lab's kubelet sees it: restarts, its last error line, and
	// when a crash-looping etcd starts again.
	EtcdPod PodStatus `json:"etcdPod"`
}

func (l *Lab) writeState() error { return l.writeStateAt(time.Time{}) }

func (l *Lab) writeStateAt(stopped time.Time) error {
	endpoint, pid := l.r.running()
	s := State{PID: os.Getpid(), EtcdPID: pid, Endpoint: endpoint, Root: l.root,
		Log: filepath.Join(l.root, filepath.FromSlash(LogFile)), Started: l.started, Stopped: stopped, EtcdPod: l.r.podStatus()}
	data, _ := json.MarshalIndent(s, "", "  ")
	return atomicfile.Write(filepath.Join(l.root, filepath.FromSlash(StateFile)), append(data, '\n'), 0o644, atomicfile.Options{})
}

// RegistryDir is where a running lab leaves a pointer to its root ("current"):
// $XDG_RUNTIME_DIR/etcd-harden-lab, else <temp>/etcd-harden-lab-<uid>.
func RegistryDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "etcd-harden-lab")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("etcd-harden-lab-%d", os.Getuid()))
}

func (l *Lab) writePointer() error {
	if err := os.MkdirAll(l.registry, 0o700); err != nil {
		return fmt.Errorf("record the running lab in %s: %w", l.registry, err)
	}
	return atomicfile.Write(filepath.Join(l.registry, "current"), []byte(l.root+"\n"), 0o600, atomicfile.Options{})
}

// removePointer removes the registry pointer if it still points at this lab.
func (l *Lab) removePointer() {
	p := filepath.Join(l.registry, "current")
	if data, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(data)) == l.root {
		os.Remove(p)
	}
}

// ReadState reads the state file of the lab rooted at root.
func ReadState(root string) (State, error) {
	var s State
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(StateFile)))
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%s: %w", StateFile, err)
	}
	return s, nil
}

// EnvFor returns the ETCDCTL_* variables ("NAME=value") for the running lab rooted at
// dir, or, with dir empty, the one the registry pointer (RegistryDir) names. The values
// come from the manifests as they are now: ETCDCTL_ENDPOINTS is etcd's loopback client
// URL; once etcd serves https, ETCDCTL_CACERT, ETCDCTL_CERT and ETCDCTL_KEY are
// kube-apiserver's --etcd-cafile/certfile/keyfile mapped under the root. A lab counts as
// running while its process does, even when its etcd is being restarted. The error
// matches ErrNotLabFolder when dir holds no lab, ErrNoLab when the lab does not run.
func EnvFor(dir string) ([]string, error) {
	root, err := findRoot(dir)
	if err != nil {
		return nil, err
	}
	s, err := ReadState(root)
	if errors.Is(err, fs.ErrNotExist) && dir == "" {
		return nil, &labError{ErrNoLab, fmt.Sprintf("no running lab found: the last one, in %s, is gone; start one with `etcd-harden lab`", root)}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &labError{ErrNotLabFolder, fmt.Sprintf("%s is not a lab folder: it has no %s; give the folder of `etcd-harden lab --keep --dir DIR`", root, StateFile)}
	}
	if err != nil {
		return nil, &labError{ErrNotLabFolder, fmt.Sprintf("%s: the lab's state file is damaged (%v); start a new lab with `etcd-harden lab`", root, err)}
	}
	switch {
	case !s.Stopped.IsZero():
		return nil, &labError{ErrNoLab, fmt.Sprintf("the lab in %s is not running: it stopped at %s and its files were kept; start one with `etcd-harden lab`", root, s.Stopped.Local().Format(time.DateTime))}
	case !alive(s.PID):
		return nil, &labError{ErrNoLab, fmt.Sprintf("the lab in %s is not running: its process (pid %d) has ended; start one with `etcd-harden lab`", root, s.PID)}
	}
	return envFromRoot(root)
}

// findRoot returns dir made absolute, or the root the registry pointer names.
func findRoot(dir string) (string, error) {
	if dir == "" {
		data, err := os.ReadFile(filepath.Join(RegistryDir(), "current"))
		if err != nil {
			return "", ErrNoLab
		}
		return strings.TrimSpace(string(data)), nil
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return "", &labError{ErrNotLabFolder, fmt.Sprintf("lab folder %s: %v", dir, err)}
	}
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return "", &labError{ErrNotLabFolder, fmt.Sprintf("%s is not a lab folder: no such folder; give the folder of `etcd-harden lab --keep --dir DIR`", root)}
	}
	return root, nil
}

func envFromRoot(root string) ([]string, error) {
	etcdPath := filepath.Join(root, filepath.FromSlash(EtcdManifest))
	m, err := discover.ReadManifest(root, etcdPath, discover.EtcdBinary)
	if err != nil {
		return nil, fmt.Errorf("lab environment: %w", err)
	}
	endpoint := clientURL(m)
	env := []string{"ETCDCTL_ENDPOINTS=" + endpoint}
	if !strings.HasPrefix(endpoint, "https://") {
		return env, nil
	}
	api, err := discover.ReadManifest(root, filepath.Join(root, filepath.FromSlash(APIServerFile)), discover.APIServerBinary)
	if err != nil {
		return env, nil
	}
	info, _ := apiServerTLS(api)
	for _, v := range []struct{ name, path string }{
		{"ETCDCTL_CACERT", info.TrustedCAFile}, {"ETCDCTL_CERT", info.CertFile}, {"ETCDCTL_KEY", info.KeyFile},
	} {
		if v.path != "" {
			env = append(env, v.name+"="+v.path)
		}
	}
	return env, nil
}

// withDefaults fills what the caller left out: a silent log, the user's registry folder
// and this executable's hidden etcd command.
func (o Options) withDefaults() (Options, error) {
	if o.Log == nil {
		o.Log = func(string) {}
	}
	if o.RegistryDir == "" {
		o.RegistryDir = RegistryDir()
	}
	if o.EtcdCommand == nil {
		c, err := selfexec.Command(EtcdSubcommand)
		if err != nil {
			return o, fmt.Errorf("find this executable to run etcd: %w", err)
		}
		o.EtcdCommand = c
	}
	return o, nil
}
