package snapshot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"github.com/etcd-harden/etcd-harden/internal/selfexec"
)

// VerifySubcommand is the hidden subcommand under which the binary runs the bbolt checks
// of a verify: `etcd-harden __verify-snapshot -- SNAPSHOT WORKDIR`. main registers it
// (with flag parsing off) and calls RunVerifyChild with its args.
const VerifySubcommand = "__verify-snapshot"

// ErrCrashed is wrapped by Verify's error when bbolt (or etcdutl over it) crashed the
// child process while reading the snapshot: a fault no recover() catches.
var ErrCrashed = errors.New("bbolt crashed while checking it")

// childEnv marks a verify child, so that a binary that does not handle VerifySubcommand
// (and so runs something else, such as a test suite) cannot start children without end.
const childEnv = "ETCD_HARDEN_VERIFY_CHILD"

// childEvent is one JSON line the child writes: a step started, a step ended (with what
// was found so far), or the child could not run at all.
type childEvent struct {
	Start string `json:"start,omitempty"`
	Step  *Step  `json:"step,omitempty"`
	Found *found `json:"found,omitempty"`
	Error string `json:"error,omitempty"`
}

// found is what the child's steps read from the snapshot, copied into the Verification.
type found struct {
	Revision       int64   `json:"revision"`
	TotalKeys      int     `json:"totalKeys"`
	TotalSize      int64   `json:"totalSize"`
	Hash           uint32  `json:"hash"`
	StorageVersion string  `json:"storageVersion,omitempty"`
	RestoredKeys   int     `json:"restoredKeys"`
	KV             *KVHash `json:"kv,omitempty"`
}

func (f *found) into(v *Verification) {
	v.Revision, v.TotalKeys, v.TotalSize, v.Hash = f.Revision, f.TotalKeys, f.TotalSize, f.Hash
	v.RestoredKeys, v.KV = f.RestoredKeys, f.KV
	if f.StorageVersion != "" {
		v.StorageVersion, v.StorageVersionText = f.StorageVersion, f.StorageVersion
	}
}

// RunVerifyChild is the child side of Verify: it runs the steps that open the snapshot
// with bbolt (VerifyBolt, VerifyStatus, VerifyRehearsal) on args, `[--] SNAPSHOT WORKDIR`,
// and writes one JSON line per event to stdout. It returns the exit code: 0 when it ran
// (whether or not the snapshot passed; the lines say), 2 on bad arguments. A hidden
// command in main calls it and exits with its result.
func RunVerifyChild(args []string, stdout io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	enc := json.NewEncoder(stdout)
	if len(args) != 2 {
		_ = enc.Encode(childEvent{Error: fmt.Sprintf("usage: %s [--] SNAPSHOT WORKDIR, got %q", VerifySubcommand, args)})
		return 2
	}
	var f found
	for _, s := range bboltSteps(args[0], args[1], &f) {
		if err := enc.Encode(childEvent{Start: s.name}); err != nil {
			return 1
		}
		start := time.Now()
		msg, err := s.run()
		step := Step{Name: s.name, Status: StatusPass, Message: msg, Took: time.Since(start)}
		if err != nil {
			step.Status, step.Message = StatusFail, err.Error()
		}
		if werr := enc.Encode(childEvent{Step: &step, Found: &f}); werr != nil {
			return 1
		}
		if err != nil {
			break
		}
	}
	return 0
}

type namedStep struct {
	name string
	run  func() (string, error)
}

// bboltSteps are the verify steps that open the snapshot with bbolt, in order.
func bboltSteps(path, work string, f *found) []namedStep {
	lg := zap.NewNop()
	return []namedStep{
		{VerifyBolt, func() (string, error) { return checkBolt(path) }},
		{VerifyStatus, func() (msg string, err error) {
			defer recoverInto(&err)
			st, err := etcdutl.NewV3(lg).Status(path)
			if err != nil {
				return "", err
			}
			f.Revision, f.TotalKeys, f.TotalSize, f.Hash, f.StorageVersion = st.Revision, st.TotalKey, st.TotalSize, st.Hash, st.Version
			// The KV hash at the snapshot's revision, for the comparison with the member.
			if f.KV, err = HashFile(path, 0); err != nil {
				return "", fmt.Errorf("compute the KV hash: %w", err)
			}
			text := st.Version
			if text == "" {
				text = NoStorageVersion
			}
			return fmt.Sprintf("revision %d, %d keys, %s, storage version %s", st.Revision, st.TotalKey, HumanBytes(st.TotalSize), text), nil
		}},
		{VerifyRehearsal, func() (string, error) {
			n, err := rehearse(lg, path, work)
			f.RestoredKeys = n
			if err != nil {
				return "", err
			}
			if n != f.TotalKeys {
				return "", fmt.Errorf("the restored data dir holds %d keys, the snapshot's status says %d", n, f.TotalKeys)
			}
			return fmt.Sprintf("restored into a temporary data dir and read back %d keys, as the status says", n), nil
		}},
	}
}

// childSteps is how many steps a child that ran to the end reports.
const childSteps = 3

// verifyInChild runs the bbolt steps in a child process and adds its steps and findings
// to v. A failed step or a crash while a step ran marks the file corrupt; a child that
// could not run, was killed from outside or ran out of memory leaves it in place.
func verifyInChild(ctx context.Context, v *Verification, opts VerifyOptions) error {
	path := v.Path
	if os.Getenv(childEnv) != "" {
		return fmt.Errorf("verify %s: this process is itself a verify child, so the binary does not run its hidden %s command; wire snapshot.RunVerifyChild into it (or set VerifyOptions.Command)", path, VerifySubcommand)
	}
	command := opts.Command
	if command == nil {
		var err error
		if command, err = selfexec.Command(VerifySubcommand); err != nil {
			return fmt.Errorf("verify %s: find this executable to run the bbolt checks: %w; the file was left as it is", path, err)
		}
	}
	// The restore rehearsal writes beside the snapshot; the parent owns the folder so
	// that it goes away even when the child crashes or is killed.
	work, err := os.MkdirTemp(filepath.Dir(path), "."+filepath.Base(path)+".rehearsal-")
	if err != nil {
		return fmt.Errorf("verify %s: make a folder for the restore rehearsal: %w; the file was left as it is", path, err)
	}
	defer os.RemoveAll(work)
	r, err := runVerifyChild(ctx, command, path, work)
	v.Steps = append(v.Steps, r.steps...)
	r.found.into(v)
	last := Step{}
	if len(r.steps) > 0 {
		last = r.steps[len(r.steps)-1]
	}
	switch {
	case ctx.Err() != nil:
		return stopped(path, "during", orDefault(r.running, "the bbolt checks"), ctx.Err())
	case last.Status == StatusFail:
		return markCorrupt(v, last.Name, errors.New(last.Message))
	case r.running != "" && r.crash != "" && !r.outOfMemory:
		cause := fmt.Errorf("%w: %s", ErrCrashed, r.crash)
		v.Steps = append(v.Steps, Step{Name: r.running, Status: StatusFail, Message: cause.Error(), Took: time.Since(r.since)})
		return markCorrupt(v, r.running, cause)
	case err != nil:
		return fmt.Errorf("verify %s: the process running the bbolt checks %w; the file was left as it is: verify it again", path, err)
	case len(r.steps) != childSteps:
		said := ""
		if len(r.other) > 0 {
			said = " (it said: " + strings.Join(r.other, " | ") + ")"
		}
		return fmt.Errorf("verify %s: the process running the bbolt checks reported %d of %d steps and stopped%s; the file was left as it is: verify it again", path, len(r.steps), childSteps, said)
	}
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// childResult is what the parent learned from a child's output.
type childResult struct {
	steps   []Step
	found   found
	running string    // the step started and not finished, "" when none
	since   time.Time // when running started
	// crash is a one-line summary of a Go crash (panic or fatal error) on the child's
	// stderr, "" when there was none.
	crash       string
	outOfMemory bool
	other       []string // the last output lines that were not events
}

// runVerifyChild starts the child, reads its events until it exits, and says why it stopped
// when it did not end cleanly (err). It kills the child when ctx ends.
func runVerifyChild(ctx context.Context, command func([]string) *exec.Cmd, path, work string) (*childResult, error) {
	r := &childResult{}
	cmd := command([]string{path, work})
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	// GOTRACEBACK=single keeps a crash an exit status 2 with a readable header (crash
	// or a user's setting would make it a signal, which reads as "killed from outside").
	cmd.Env = append(env, childEnv+"=1", "GOTRACEBACK=single")
	selfexec.SetProcAttr(cmd)
	stderr := &crashLog{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, fmt.Errorf("could not be set up: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return r, fmt.Errorf("could not be started (%s): %w", cmd.Path, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = cmd.Process.Kill() })
	defer stop()
	var other []string // lines that are not events, for the report
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev childEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil || (ev == childEvent{}) {
			other = lastN(append(other, sc.Text()), 5)
			continue
		}
		switch {
		case ev.Start != "":
			r.running, r.since = ev.Start, time.Now()
		case ev.Step != nil:
			r.steps = append(r.steps, *ev.Step)
			r.running = ""
			if ev.Found != nil {
				r.found = *ev.Found
			}
		case ev.Error != "":
			other = lastN(append(other, ev.Error), 5)
		}
	}
	_, _ = io.Copy(io.Discard, out) // after a too long line, so the child is not blocked
	werr := cmd.Wait()
	r.crash, r.outOfMemory = stderr.crash()
	r.other = other
	if werr == nil { // stray lines are harmless if all steps came; verifyInChild counts them
		return r, nil
	}
	why := strings.Join(other, " | ")
	switch {
	case r.crash != "":
		why = r.crash
	case why == "":
		why = strings.Join(stderr.last(5), " | ")
	}
	state := werr.Error()
	if cmd.ProcessState != nil && !cmd.ProcessState.Exited() {
		state += " (killed from outside, perhaps for lack of memory)"
	}
	if r.outOfMemory {
		state += " (it ran out of memory)"
	}
	if why == "" {
		return r, fmt.Errorf("failed: %s", state)
	}
	return r, fmt.Errorf("failed: %s: %s", state, why)
}

func lastN(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// crashLog keeps the start of the child's stderr (where a Go crash puts its header and
// the crashing goroutine) and its last lines.
type crashLog struct {
	mu   sync.Mutex
	head []byte
	tail []string
	part []byte
}

const crashHead = 32 << 10

func (c *crashLog) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if room := crashHead - len(c.head); room > 0 {
		c.head = append(c.head, p[:min(room, len(p))]...)
	}
	data := append(c.part, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(data[:i])); line != "" {
			c.tail = lastN(append(c.tail, line), 20)
		}
		data = data[i+1:]
	}
	c.part = append([]byte(nil), data[:min(len(data), 4096)]...)
	return len(p), nil
}

func (c *crashLog) last(n int) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	lines := c.tail
	if s := strings.TrimSpace(string(c.part)); s != "" {
		lines = append(lines[:len(lines):len(lines)], s)
	}
	return lastN(lines, n)
}

// crash summarises a Go crash on one line: the header lines ("unexpected fault address
// ...", "fatal error: fault", "[signal SIGSEGV ...]" or "panic: ...") and the first frame
// outside the runtime, "" when stderr holds no crash.
func (c *crashLog) crash() (summary string, outOfMemory bool) {
	c.mu.Lock()
	lines := strings.Split(string(c.head), "\n")
	c.mu.Unlock()
	begin := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") ||
			strings.HasPrefix(l, "unexpected fault address") || strings.HasPrefix(l, "unexpected signal") {
			begin = i
			break
		}
	}
	if begin < 0 {
		return "", false
	}
	var header []string
	i := begin
	for ; i < len(lines) && strings.TrimSpace(lines[i]) != ""; i++ {
		if l := strings.TrimSpace(lines[i]); l != "[recovered]" && !strings.HasPrefix(l, "goroutine ") {
			header = append(header, l)
		}
		if len(header) == 6 {
			break
		}
	}
	summary = strings.Join(header, " ")
	outOfMemory = strings.Contains(summary, "out of memory")
	// The crashing goroutine's frames follow: a function line, then a tab-indented
	// file:line. The first function outside the runtime says where it crashed.
	for ; i < len(lines); i++ {
		l := lines[i]
		if l == "" || strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "goroutine ") ||
			strings.HasPrefix(l, "runtime.") || strings.HasPrefix(l, "panic(") || strings.HasPrefix(l, "[") {
			continue
		}
		if j := strings.LastIndexByte(l, '('); j > 0 && strings.HasSuffix(l, ")") && !strings.HasPrefix(l, "created by ") {
			summary += " in " + l[:j]
			break
		}
	}
	return summary, outOfMemory
}
