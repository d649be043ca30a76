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
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/etcd-harden/etcd-harden/internal/selfexec"
)

// VerifySubcommand is the hidden subcommand under which the binary runs the bbolt checks
// of a verify: `etcd-harden __verify-snapshot -- SNAPSHOT WORKDIR [MODE]`. main registers it
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
	// Revision is the snapshot's revision, said as soon as it is read, so that the parent
	// can ask the member for its KV hash while the child reads the rest.
	Revision int64  `json:"revision,omitempty"`
	Step     *Step  `json:"step,omitempty"`
	Found    *found `json:"found,omitempty"`
	Error    string `json:"error,omitempty"`
}

// found is what the child's steps read from the snapshot, copied into the Verification.
type found struct {
	Revision       int64   `json:"revision"`
	TotalKeys      int     `json:"totalKeys"`
	TotalSize      int64   `json:"totalSize"`
	Hash           uint32  `json:"hash"`
	StorageVersion string  `json:"storageVersion,omitempty"`
	KV             *KVHash `json:"kv,omitempty"`
	// Restored is the KV hash and key count read back from the rehearsal's restored db.
	Restored *KVHash `json:"restored,omitempty"`
}

// into copies what the child read into v; a rehearsal-only child read no status.
func (f *found) into(v *Verification) {
	if f.KV != nil || f.Revision != 0 {
		v.Revision, v.TotalKeys, v.TotalSize, v.Hash, v.KV = f.Revision, f.TotalKeys, f.TotalSize, f.Hash, f.KV
		if f.StorageVersion != "" {
			v.StorageVersion, v.StorageVersionText = f.StorageVersion, f.StorageVersion
		}
	}
	if f.Restored != nil {
		v.RestoredKeys = f.Restored.LiveKeys
	}
}

// The child's modes: which of its steps it runs.
const (
	modeAll       = "all"       // the bbolt check, the status and the rehearsal
	modeInspect   = "inspect"   // the bbolt check and the status
	modeRehearsal = "rehearsal" // the rehearsal alone, after an inspection
)

// modeSteps is how many steps a child of each mode reports when it runs to the end.
var modeSteps = map[string]int{modeAll: 3, modeInspect: 2, modeRehearsal: 1}

// RunVerifyChild is the child side of Verify: it runs the steps that open the snapshot
// with bbolt (VerifyBolt, VerifyStatus, VerifyRehearsal) on args, `[--] SNAPSHOT WORKDIR
// [MODE]` (all when no MODE: see modeSteps), and writes one JSON line per event to stdout. It returns the exit code: 0 when it ran
// (whether or not the snapshot passed; the lines say), 2 on bad arguments. A hidden
// command in main calls it and exits with its result.
func RunVerifyChild(args []string, stdout io.Writer) int {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	enc := json.NewEncoder(stdout)
	mode := modeAll
	if len(args) == 3 {
		mode = args[2]
	}
	if _, ok := modeSteps[mode]; !ok || len(args) < 2 || len(args) > 3 {
		_ = enc.Encode(childEvent{Error: fmt.Sprintf("usage: %s [--] SNAPSHOT WORKDIR [all|inspect|rehearsal], got %q", VerifySubcommand, args)})
		return 2
	}
	if mode != modeInspect && os.Getenv("GOMEMLIMIT") == "" {
		if st, err := os.Stat(args[0]); err == nil {
			debug.SetMemoryLimit(rehearsalMemoryLimit(st.Size()))
		}
	}
	var f found
	var mu sync.Mutex // the rehearsal runs beside the steps
	emit := func(ev childEvent) error {
		mu.Lock()
		defer mu.Unlock()
		return enc.Encode(ev)
	}
	for _, s := range bboltSteps(args[0], args[1], &f, mode, emit) {
		if err := emit(childEvent{Start: s.name}); err != nil {
			return 1
		}
		start := time.Now()
		msg, err := s.run()
		step := Step{Name: s.name, Status: StatusPass, Message: msg, Took: time.Since(start)}
		if err != nil {
			step.Status, step.Message = StatusFail, err.Error()
		}
		if werr := emit(childEvent{Step: &step, Found: &f}); werr != nil {
			return 1
		}
		if err != nil {
			break
		}
	}
	return 0
}

// rehearsalMemoryLimit is the soft memory limit of a child that rehearses the restore of
// a snapshot of size bytes. etcdutl opens the restored copy three times and each time bbolt
// rebuilds the unsynced freelist in a map of every page it reaches (20 to 40 bytes a
// 4 KiB page as the map's tables fill and split, on top of 8 MiB for the rest); left to
// GOGC, the collector lets one map's garbage pile up beside the next. Measured peaks of
// the child: 53 → 44 MiB at 5.6 GiB, 105 → 80 MiB at 7.5 GiB. The limit follows the
// file's size, so that the collector runs more often on a larger snapshot, not without end.
func rehearsalMemoryLimit(size int64) int64 {
	return 12<<20 + size/4096*26
}

type namedStep struct {
	name string
	run  func() (string, error)
}

// bboltSteps are the verify steps that open the snapshot with bbolt, in order: the
// bbolt check and the status come from one read (inspect); the restore rehearsal, when
// rehearse, restores a copy and reads its KV hash back.
func bboltSteps(path, work string, f *found, mode string, emit func(childEvent) error) []namedStep {
	if mode == modeRehearsal {
		return []namedStep{rehearsalStep(path, work, f)}
	}
	var (
		in      *inspection
		passErr error
	)
	steps := []namedStep{
		{VerifyBolt, func() (string, error) {
			onRevision := func(rev int64) { _ = emit(childEvent{Revision: rev}) }
			if in, passErr = inspect(path, onRevision, mode == modeAll); in == nil {
				return "", passErr
			}
			return in.checkResult()
		}},
		{VerifyStatus, func() (string, error) {
			if passErr != nil {
				return "", passErr
			}
			f.Revision, f.TotalKeys, f.TotalSize, f.Hash, f.StorageVersion, f.KV = in.Revision, in.TotalKeys, in.TotalSize, in.Hash, in.StorageVersion, in.KV
			text := in.StorageVersion
			if text == "" {
				text = NoStorageVersion
			}
			return fmt.Sprintf("revision %d, %d keys, %s, storage version %s",
				in.Revision, in.TotalKeys, HumanBytes(in.TotalSize), text), nil
		}},
	}
	if mode == modeInspect {
		return steps
	}
	// The rehearsal (etcdutl's restore, then the read-back) is the longer of the two: the
	// inspection runs beside it at a lower priority, so that on two cores the restore
	// keeps one to itself and the inspection, with the member's own hash, shares the other.
	return append(steps, rehearsalStep(path, work, f))
}

// rehearsalStep restores the snapshot with etcdutl and reads the restored db's KV hash
// and key count back (found.Restored); the parent compares them with the snapshot's. The
// restore starts at once, in the background: the step waits for it.
func rehearsalStep(path, work string, f *found) namedStep {
	type result struct {
		kv  *KVHash
		err error
	}
	done := make(chan result, 1)
	go func() {
		kv, err := rehearse(zap.NewNop(), path, work)
		done <- result{kv, err}
	}()
	return namedStep{VerifyRehearsal, func() (string, error) {
		r := <-done
		kv, err := r.kv, r.err
		if err != nil {
			return "", err
		}
		f.Restored = kv
		return fmt.Sprintf("restored into a temporary data dir with etcdutl and read back %d keys, KV hash %d at revision %d", kv.LiveKeys, kv.Hash, kv.Revision), nil
	}}
}

// verifyInChild runs the bbolt steps of mode in a child process and adds its steps and
// findings to v. A failed step or a crash while a step ran marks the file corrupt (unless
// opts.LeaveCorrupt); a child that could not run, was killed from outside or ran out of
// memory leaves it in place.
func verifyInChild(ctx context.Context, v *Verification, opts VerifyOptions, mode string) error {
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
	r, err := runVerifyChild(ctx, command, path, work, mode, opts.OnRevision)
	r.found.into(v)
	compareRestored(r, v)
	v.Steps = append(v.Steps, r.steps...)
	last := Step{}
	if len(r.steps) > 0 {
		last = r.steps[len(r.steps)-1]
	}
	switch {
	case ctx.Err() != nil:
		return stopped(path, "during", orDefault(r.running, "the bbolt checks"), ctx.Err())
	case last.Status == StatusFail:
		return markCorrupt(v, last.Name, errors.New(last.Message), opts)
	case r.running != "" && r.crash != "" && !r.outOfMemory:
		cause := fmt.Errorf("%w: %s", ErrCrashed, r.crash)
		v.Steps = append(v.Steps, Step{Name: r.running, Status: StatusFail, Message: cause.Error(), Took: time.Since(r.since)})
		return markCorrupt(v, r.running, cause, opts)
	case err != nil:
		return fmt.Errorf("verify %s: the process running the bbolt checks %w; the file was left as it is: verify it again", path, err)
	case len(r.steps) != modeSteps[mode]:
		said := ""
		if len(r.other) > 0 {
			said = " (it said: " + strings.Join(r.other, " | ") + ")"
		}
		return fmt.Errorf("verify %s: the process running the bbolt checks reported %d of %d steps and stopped%s; the file was left as it is: verify it again", path, len(r.steps), modeSteps[mode], said)
	}
	return nil
}

// compareRestored fails a passed rehearsal whose restored db does not hold the
// snapshot's keys: the same KV hash and the same key count.
func compareRestored(r *childResult, v *Verification) {
	got := r.found.Restored
	if got == nil || v.KV == nil || len(r.steps) == 0 || r.steps[len(r.steps)-1].Name != VerifyRehearsal {
		return
	}
	if got.Hash != v.KV.Hash || got.LiveKeys != v.KV.LiveKeys {
		s := &r.steps[len(r.steps)-1]
		s.Status = StatusFail
		s.Message = fmt.Sprintf("the restored data dir holds %d keys with KV hash %d, the snapshot %d keys with KV hash %d", got.LiveKeys, got.Hash, v.KV.LiveKeys, v.KV.Hash)
		return
	}
	r.steps[len(r.steps)-1].Message = fmt.Sprintf("restored into a temporary data dir with etcdutl; it holds the snapshot's %d keys, KV hash %d at revision %d", got.LiveKeys, got.Hash, got.Revision)
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
func runVerifyChild(ctx context.Context, command func([]string) *exec.Cmd, path, work, mode string, onRevision func(int64)) (*childResult, error) {
	r := &childResult{}
	cmd := command([]string{path, work, mode})
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
		case ev.Revision != 0:
			if onRevision != nil {
				onRevision(ev.Revision)
			}
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
	// Two goroutines that fault at once (the bbolt check and the status pass run side by
	// side) interleave their headers: the signal line may come later.
	if !slices.ContainsFunc(header, func(l string) bool { return strings.HasPrefix(l, "[signal ") }) {
		if j := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "[signal ") }); j >= 0 {
			header = append(header, strings.TrimSpace(lines[j]))
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
