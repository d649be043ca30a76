package lab

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/selfexec"
	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// EventKind says what happened to the lab's etcd.
type EventKind string

// Kinds of Event.
const (
	// EtcdReady: etcd started from etcd.yaml and answers on its client URL.
	EtcdReady EventKind = "ready"
	// EtcdStopped: etcd was stopped because etcd.yaml changed or was removed.
	EtcdStopped EventKind = "stopped"
	// EtcdFailed: etcd exited, did not answer in time, or etcd.yaml could not be run.
	// When etcd was running and exited, the lab starts it again after Event.Backoff, as
	// a kubelet restarts a crashed container; otherwise when etcd.yaml changes.
	EtcdFailed EventKind = "failed"
)

// LogLines is how many of etcd's last output lines a failure Event carries.
const LogLines = 20

// Event is one thing that happened to the lab's etcd, as a kubelet would report it.
type Event struct {
	Kind     EventKind
	Time     time.Time
	PID      int      // etcd's pid (0 when it did not start)
	Endpoint string   // the client URL the lab probes
	Args     []string // etcd's flags, with host paths
	Restart  bool     // for EtcdReady: started again (after etcd.yaml changed or etcd exited)
	// Backoff, for EtcdFailed: the lab starts etcd again after this long; 0 when it
	// waits for etcd.yaml to change instead.
	Backoff time.Duration
	Err     error    // for EtcdFailed and EtcdStopped: what happened and what to do
	Log     []string // for EtcdFailed: up to LogLines last lines of etcd's output
}

// String is a one-line summary for logs.
func (e Event) String() string {
	switch e.Kind {
	case EtcdReady:
		verb := "started"
		if e.Restart {
			verb = "restarted"
		}
		return fmt.Sprintf("etcd %s from etcd.yaml (pid %d), answering on %s", verb, e.PID, e.Endpoint)
	default:
		return fmt.Sprintf("etcd %s: %v", e.Kind, e.Err)
	}
}

// runner is the lab's kubelet for one static pod: it runs etcd from etcd.yaml and runs it
// again when the file changes.
type runner struct {
	root         string
	manifest     string // host path of etcd.yaml
	command      func(args []string) *exec.Cmd
	logf         func(string)
	emit         func(Event)
	readyTimeout time.Duration
	stopTimeout  time.Duration
	poll         time.Duration
	backoff      crashBackoff

	hash    [32]byte // of the etcd.yaml content last acted on
	cur     *proc    // owned by the goroutine that runs apply and loop
	started bool     // an etcd has been ready once: later starts are restarts
	notes   string   // the flag notes last logged

	mu       sync.Mutex
	endpoint string
	pid      int
	onChange func(endpoint string, pid int)
}

// proc is one etcd child process.
type proc struct {
	cmd  *exec.Cmd
	args []string
	out  *tail
	done chan struct{} // closed when the process has exited and its output is flushed
	up   time.Time     // when it answered; zero until then
	err  error         // Wait's result, set before done is closed
}

// missingHash stands for "etcd.yaml does not exist".
var missingHash = sha256.Sum256([]byte("\x00etcd.yaml missing"))

// readManifest returns the file's content and hash (missingHash when it is absent).
func (r *runner) readManifest() ([]byte, [32]byte, error) {
	data, err := os.ReadFile(r.manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, missingHash, nil
	}
	if err != nil {
		return nil, [32]byte{}, err
	}
	return data, sha256.Sum256(data), nil
}

// loop polls etcd.yaml every r.poll and acts on changes and on etcd exiting, until ctx
// ends; then it stops etcd. When a running etcd exits, loop starts it again from
// etcd.yaml after a back-off that doubles while it keeps exiting (a kubelet's crash loop),
// so a manifest whose etcd dies at once is not restarted in a tight loop.
func (r *runner) loop(ctx context.Context) {
	t := time.NewTicker(r.poll)
	defer t.Stop()
	var restart *time.Timer // pending restart after a crash; nil when none
	cancelRestart := func() {
		if restart != nil {
			restart.Stop()
			restart = nil
		}
	}
	defer cancelRestart()
	for {
		var exited chan struct{}
		if r.cur != nil {
			exited = r.cur.done
		}
		var restartC <-chan time.Time
		if restart != nil {
			restartC = restart.C
		}
		select {
		case <-ctx.Done():
			r.stop()
			return
		case <-exited:
			p := r.cur
			r.cur = nil
			r.setRunning("", 0)
			delay := r.backoff.next(p.up)
			restart = time.NewTimer(delay)
			r.emit(Event{Kind: EtcdFailed, Time: time.Now(), PID: p.cmd.Process.Pid, Args: p.args, Backoff: delay,
				Err: fmt.Errorf("etcd (pid %d) exited (%v); the lab starts it again from %s in %s, as a kubelet would; see %s",
					p.cmd.Process.Pid, p.err, r.manifest, delay, filepath.Join(r.root, filepath.FromSlash(LogFile))),
				Log: p.out.last(LogLines)})
		case <-restartC:
			restart = nil
			data, h, err := r.readManifest()
			if err != nil {
				continue // the next tick reports it
			}
			r.hash = h
			var se *StartError
			if err := r.apply(ctx, data, h == missingHash); errors.As(err, &se) && ctx.Err() == nil {
				// etcd ran from this manifest before: keep trying, slower each time.
				delay := r.backoff.next(time.Time{})
				restart = time.NewTimer(delay)
				r.logf(fmt.Sprintf("the lab tries etcd again in %s", delay))
			}
		case <-t.C:
			data, h, err := r.readManifest()
			if err != nil || h == r.hash {
				continue
			}
			// An editor may be half-way through writing: act once the content holds still.
			time.Sleep(r.poll / 3)
			if _, h2, _ := r.readManifest(); h2 != h {
				continue
			}
			r.hash = h
			cancelRestart() // the new manifest replaces a pending restart
			r.backoff.reset()
			_ = r.apply(ctx, data, h == missingHash)
		}
	}
}

// crashBackoff is how long the lab waits before starting a crashed etcd again: base,
// doubled on each crash up to max, back to base once etcd has run for resetAfter.
type crashBackoff struct {
	base, max, resetAfter time.Duration
	cur                   time.Duration
}

// next returns the delay before the next start, for an etcd that was up since up
// (zero when it never answered).
func (b *crashBackoff) next(up time.Time) time.Duration {
	if !up.IsZero() && time.Since(up) >= b.resetAfter {
		b.cur = 0
	}
	if b.cur == 0 {
		b.cur = b.base
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *crashBackoff) reset() { b.cur = 0 }

// apply stops the running etcd (if any) and starts one from data, the content of
// etcd.yaml, then waits until it answers. missing means etcd.yaml was removed: like a
// kubelet, the lab then only stops etcd.
func (r *runner) apply(ctx context.Context, data []byte, missing bool) error {
	if missing {
		if r.stop() {
			r.emit(Event{Kind: EtcdStopped, Time: time.Now(),
				Err: fmt.Errorf("%s was removed; etcd stopped, as a kubelet would stop the pod; put the file back to start it", r.manifest)})
		}
		return fmt.Errorf("%s does not exist", r.manifest)
	}
	m, err := discover.ParseManifest(r.root, r.manifest, data, discover.EtcdBinary)
	if err != nil {
		r.stop()
		err = fmt.Errorf("etcd is stopped: %w; the lab starts etcd again when the file is fixed", err)
		r.emit(Event{Kind: EtcdFailed, Time: time.Now(), Err: err})
		return err
	}
	if r.stop() {
		r.emit(Event{Kind: EtcdStopped, Time: time.Now(), Err: fmt.Errorf("%s changed; restarting etcd with the new flags", r.manifest)})
	}
	args, notes := etcdArgs(m, r.root)
	if joined := strings.Join(notes, "\n"); joined != r.notes {
		r.notes = joined // say it once, not on every restart
		for _, n := range notes {
			r.logf(n)
		}
	}
	p, err := r.spawn(args, m)
	if err != nil {
		err = fmt.Errorf("start etcd from %s: %w", r.manifest, err)
		r.emit(Event{Kind: EtcdFailed, Time: time.Now(), Args: args, Err: err})
		return err
	}
	r.cur = p
	pr := newProbe(r.root, m)
	if err := r.waitReady(ctx, p, pr); err != nil {
		r.stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = fmt.Errorf("etcd from %s %w; see %s, fix the flags and the lab starts it again", r.manifest, err, filepath.Join(r.root, filepath.FromSlash(LogFile)))
		r.emit(Event{Kind: EtcdFailed, Time: time.Now(), PID: p.cmd.Process.Pid, Endpoint: pr.endpoint, Args: args, Err: err, Log: p.out.last(LogLines)})
		return &StartError{Err: err, Log: p.out.last(LogLines)}
	}
	p.up = time.Now()
	r.setRunning(pr.endpoint, p.cmd.Process.Pid)
	r.emit(Event{Kind: EtcdReady, Time: time.Now(), PID: p.cmd.Process.Pid, Endpoint: pr.endpoint, Args: args, Restart: r.started})
	r.started = true
	return nil
}

// StartError is etcd failing to start or to answer, with its last log lines.
type StartError struct {
	Err error
	Log []string
}

// Error returns the cause followed by etcd's last log lines.
func (e *StartError) Error() string {
	if len(e.Log) == 0 {
		return e.Err.Error()
	}
	return e.Err.Error() + "\netcd's last log lines:\n  " + strings.Join(e.Log, "\n  ")
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

func (r *runner) setRunning(endpoint string, pid int) {
	r.mu.Lock()
	r.endpoint, r.pid = endpoint, pid
	f := r.onChange
	r.mu.Unlock()
	if f != nil {
		f(endpoint, pid)
	}
}

func (r *runner) running() (endpoint string, pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.endpoint, r.pid
}

// spawn starts etcd with args, its output appended to the lab's etcd log.
func (r *runner) spawn(args []string, m *discover.Manifest) (*proc, error) {
	cmd := r.command(args)
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(withoutEtcdEnv(cmd.Env), containerEnv(m)...)
	logPath := filepath.Join(r.root, filepath.FromSlash(LogFile))
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the lab's etcd log: %w", err)
	}
	fmt.Fprintf(logFile, "--- %s etcd-harden lab: starting etcd %s\n", time.Now().Format(time.RFC3339), strings.Join(args, " "))
	p := &proc{cmd: cmd, args: args, out: newTail(200), done: make(chan struct{})}
	w := io.MultiWriter(logFile, p.out)
	cmd.Stdout, cmd.Stderr = w, w
	selfexec.SetProcAttr(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// withoutEtcdEnv drops ETCD_* variables of the lab's own environment: etcd would read
// them as flags the manifest does not have.
func withoutEtcdEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "ETCD_") {
			out = append(out, kv)
		}
	}
	return out
}

// containerEnv returns the literal env values of etcd's container, as the kubelet sets.
func containerEnv(m *discover.Manifest) []string {
	c := m.ContainerSpec()
	var out []string
	for _, e := range c.Env {
		if e.ValueFrom == nil {
			out = append(out, e.Name+"="+e.Value)
		}
	}
	return out
}

// waitReady polls the probe until etcd answers, exits, or readyTimeout passes.
func (r *runner) waitReady(ctx context.Context, p *proc, pr *probe) error {
	deadline := time.NewTimer(r.readyTimeout)
	defer deadline.Stop()
	var last error
	for {
		if last = pr.check(ctx); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("exited (%v) before answering on %s", p.err, pr.endpoint)
		case <-deadline.C:
			return fmt.Errorf("did not answer on %s within %s (last probe: %v)", pr.endpoint, r.readyTimeout, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop ends the running etcd: SIGTERM to its process group, SIGKILL after stopTimeout.
// It reports whether there was one to stop.
func (r *runner) stop() bool {
	p := r.cur
	if p == nil {
		return false
	}
	r.cur = nil
	r.setRunning("", 0)
	signalGroup(p.cmd, sigTerm)
	select {
	case <-p.done:
	case <-time.After(r.stopTimeout):
		signalGroup(p.cmd, sigKill)
		<-p.done
	}
	return true
}
