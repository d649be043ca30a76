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
	// When etcd ran (and exited or did not answer), the lab starts it again after
	// Event.Backoff, as a kubelet restarts a crashing container (CrashLoopBackOff), or at
	// once when etcd.yaml changes; when etcd.yaml cannot be run (it does not parse),
	// only when etcd.yaml changes.
	EtcdFailed EventKind = "failed"
)

// LogLines is how many of etcd's last output lines a failure Event carries.
const LogLines = 20

// tailLines is how many of its last output lines the lab keeps of each etcd it runs.
const tailLines = 200

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
	// Restarts is how many times the lab started etcd again after it died since
	// etcd.yaml last changed (a container's restart count).
	Restarts int
	Err      error    // for EtcdFailed and EtcdStopped: what happened and what to do
	Log      []string // for EtcdFailed: up to LogLines last lines of etcd's output
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
	// retry is set when etcd died or failed to start from a manifest that runs: loop
	// starts it again after this long. 0: nothing to retry.
	retry time.Duration

	mu       sync.Mutex
	endpoint string
	pid      int
	pod      PodStatus
	onChange func(endpoint string, pid int)
}

// PodStatus is the lab's etcd as its kubelet sees it, like a container's status in
// `kubectl describe pod`: how often it was restarted and why it last died.
type PodStatus struct {
	// Restarts counts the starts after etcd died, since etcd.yaml last changed.
	Restarts int `json:"restarts"`
	// LastError is etcd's own error line from its last death ("" while none): the first
	// line of its output that is not a JSON log record (a flag error, a panic), else
	// what the lab saw (killed, did not answer).
	LastError string `json:"lastError,omitempty"`
	// NextStart is when the lab starts etcd again after it died (CrashLoopBackOff);
	// zero while etcd runs or waits for etcd.yaml to change.
	NextStart time.Time `json:"nextStart,omitzero"`
	// Backoff is the wait before NextStart; it doubles while etcd keeps dying.
	Backoff time.Duration `json:"backoff,omitempty"`
}

// CrashLooping reports whether etcd died and a restart is due (CrashLoopBackOff).
func (p PodStatus) CrashLooping() bool { return !p.NextStart.IsZero() }

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
// ends; then it stops etcd. Like a kubelet's CrashLoopBackOff, an etcd that dies (it
// exits, or does not answer after a start) is started again from etcd.yaml after a
// back-off that doubles while it keeps dying; a change to etcd.yaml starts it at once,
// with the back-off and the restart count back at zero.
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
	schedule := func() { // a crash asked for a restart after its back-off
		cancelRestart()
		if r.retry > 0 {
			restart = time.NewTimer(r.retry)
			r.retry = 0
		}
	}
	schedule() // the first start (Resume's) may have failed
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
			r.crashed(p, "", fmt.Errorf("etcd (pid %d) exited (%v)", p.cmd.Process.Pid, p.err))
			schedule()
		case <-restartC:
			restart = nil
			data, h, err := r.readManifest()
			if err != nil {
				r.retry = r.backoff.next(time.Time{}) // unreadable for now: try again later
				schedule()
				continue
			}
			r.hash = h
			r.countRestart()
			_ = r.apply(ctx, data, h == missingHash)
			schedule()
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
			r.resetPod()
			_ = r.apply(ctx, data, h == missingHash)
			schedule()
		}
	}
}

// crashed records that etcd died (p, which answered on endpoint if it got that far;
// cause says how) and sets r.retry to the back-off before the next start, as a kubelet
// puts a crashing container in CrashLoopBackOff. It emits an EtcdFailed Event that
// carries etcd's last lines and the back-off.
func (r *runner) crashed(p *proc, endpoint string, cause error) {
	delay := r.backoff.next(p.up)
	r.retry = delay
	logLines := p.out.last(LogLines)
	words := ownWords(p.out.last(tailLines)) // a flag error comes before etcd's usage text
	if words == "" {
		words = cause.Error()
	} else {
		cause = fmt.Errorf("%w: %s", cause, words)
	}
	r.mu.Lock()
	r.pod.LastError, r.pod.Backoff, r.pod.NextStart = words, delay, time.Now().Add(delay)
	restarts := r.pod.Restarts
	r.mu.Unlock()
	r.changed()
	r.emit(Event{Kind: EtcdFailed, Time: time.Now(), PID: p.cmd.Process.Pid, Endpoint: endpoint, Args: p.args,
		Backoff: delay, Restarts: restarts, Log: logLines,
		Err: fmt.Errorf("%w; CrashLoopBackOff (restarts: %d): the lab starts it again from %s in %s, or at once when the file changes, as a kubelet would; see %s",
			cause, restarts, r.manifest, delay, filepath.Join(r.root, filepath.FromSlash(LogFile)))})
}

// countRestart counts a start after a crash; the restart is no longer pending.
func (r *runner) countRestart() {
	r.mu.Lock()
	r.pod.Restarts++
	r.pod.NextStart = time.Time{}
	r.mu.Unlock()
	r.changed()
}

// resetPod starts the count over: etcd.yaml changed, a new pod as a kubelet sees it.
func (r *runner) resetPod() {
	r.mu.Lock()
	r.pod = PodStatus{}
	r.mu.Unlock()
	r.changed()
}

// podStatus returns the kubelet's view of etcd now.
func (r *runner) podStatus() PodStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pod
}

// times says n as "once", "2 times".
func times(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

// ownWords is etcd's own error line among lines of its output: the first that is not
// one of its JSON log records (a flag error, a panic), else "".
func ownWords(lines []string) string {
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "{") {
			return l
		}
	}
	return ""
}

// podBackoff is the lab's CrashLoopBackOff: a kubelet's (10 s doubling to 5 min, reset
// after 10 min up) made small enough for a class.
var podBackoff = crashBackoff{base: 500 * time.Millisecond, max: 10 * time.Second, resetAfter: 20 * time.Second}

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
		r.retry = r.backoff.next(time.Time{}) // as a kubelet retries a container that would not run
		r.emit(Event{Kind: EtcdFailed, Time: time.Now(), Args: args, Backoff: r.retry, Err: err})
		return err
	}
	r.cur = p
	pr := newProbe(r.root, m)
	if err := r.waitReady(ctx, p, pr); err != nil {
		r.stop()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = fmt.Errorf("etcd from %s %w", r.manifest, err)
		r.crashed(p, pr.endpoint, err)
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
	r.mu.Unlock()
	r.changed()
}

// changed tells onChange (the lab's state file) that etcd's state changed.
func (r *runner) changed() {
	r.mu.Lock()
	endpoint, pid, f := r.endpoint, r.pid, r.onChange
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
	p := &proc{cmd: cmd, args: args, out: newTail(tailLines), done: make(chan struct{})}
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

// newRunner gives l its kubelet: a runner of etcd from l's etcd.yaml with the lab's
// timings, that writes the state file on every change of the pod.
func (l *Lab) newRunner(command func([]string) *exec.Cmd, readyTimeout time.Duration) {
	l.r = &runner{
		root: l.root, manifest: filepath.Join(l.root, filepath.FromSlash(EtcdManifest)),
		command: command, logf: l.log, emit: l.emit,
		readyTimeout: readyTimeout, stopTimeout: 5 * time.Second,
		poll:    300 * time.Millisecond,
		backoff: podBackoff,
	}
	l.r.onChange = func(string, int) { _ = l.writeState() }
}

// startEtcd starts etcd from its manifest and waits until it answers (ctx ends the wait,
// not etcd), then hands it to the kubelet loop, which runs until Close. A first start that
// fails is the error, unless lenient and ctx still runs: the loop then starts etcd again
// after its back-off, or when etcd.yaml changes.
func (l *Lab) startEtcd(ctx context.Context, lenient bool) error {
	data, h, err := l.r.readManifest()
	if err != nil {
		close(l.loopDone)
		return err
	}
	l.r.hash = h
	runCtx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	startCtx, stopWaiting := context.WithCancel(runCtx)
	go func() { // ctx ends the first wait; runCtx ends everything.
		select {
		case <-ctx.Done():
		case <-startCtx.Done():
		}
		stopWaiting()
	}()
	err = l.r.apply(startCtx, data, h == missingHash)
	stopWaiting()
	if err != nil && (!lenient || ctx.Err() != nil) {
		close(l.loopDone)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	go func() {
		defer close(l.loopDone)
		l.r.loop(runCtx)
	}()
	return nil
}
