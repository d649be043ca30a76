package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// seeded is how many keys the tests put into etcd before the snapshot.
const seeded = 25

// newSession lays out a hardened node root and a session whose etcd client settings are
// the real embedded etcd's (as the flags or ETCDCTL_* would give them).
func newSession(t *testing.T, srv *testetcd.Server, answers map[string]string) *step.Session {
	t.Helper()
	s := steptest.Session(t, steptest.Root(t, "hardened"), answers)
	if srv != nil {
		s.Etcd = etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
	}
	return s
}

func startEtcd(t *testing.T) *testetcd.Server {
	t.Helper()
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	for i := range seeded {
		if _, err := cli.Put(context.Background(), fmt.Sprintf("/registry/secrets/default/s%02d", i), strings.Repeat("v", 512)); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

// tui runs the step as the shell would: Init, then the window size the program reports.
func runTUI(t *testing.T, p *Step, s *step.Session) *steptest.Driver {
	t.Helper()
	d := &steptest.Driver{T: t, Step: p, Session: s}
	d.Run(p.Init(s))
	d.Run(func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	return d
}

func prefilled(dest string, extra ...string) map[string]string {
	a := map[string]string{KeyDest: dest, KeySchedule: "none"}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = extra[i+1]
	}
	return a
}

func TestTestPassesWithPrefilledAnswers(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, srv, prefilled(dest, KeySchedule, "both", KeyKeep, "3", KeyWrite, "true"))
	p := NewWithOptions(Options{Name: "etcd-snapshot-test"})
	d := runTUI(t, p, s)
	if len(d.Errs) > 0 || !p.Ready() {
		t.Fatalf("not ready: errors %v, err %v\n%s", d.Errs, p.Err(), p.View(step.Frame{R: plain.New()}))
	}
	snap := filepath.Join(dest, "etcd-snapshot-test.db")
	assertMode(t, snap, 0o600)
	for _, f := range []string{snapshot.CronJobFile, snapshot.ServiceFile, snapshot.TimerFile} {
		assertMode(t, filepath.Join(dest, f), 0o600)
	}
	r := p.Report()
	if r.Verification == nil || r.Verification.TotalKeys < seeded || !r.Verification.OK {
		t.Fatalf("verification = %+v", r.Verification)
	}
	view := p.View(step.Frame{R: plain.New()})
	for _, want := range []string{
		"snapshot: " + snap,
		fmt.Sprintf("keys: %d", r.Verification.TotalKeys),
		"storage version: 3.7.0",
		"[PASS] verify same data as the member",
		"restore rehearsal: not run: the member's KV hash proved the content",
		"kind: CronJob",
		"OnCalendar=",
		"written to " + filepath.Join(dest, snapshot.CronJobFile),
	} {
		if !strings.Contains(view, want) {
			t.Errorf("view lacks %q:\n%s", want, view)
		}
	}
	out := s.Backup
	if out == nil || out.Report != r || len(out.ScheduleFiles) != 3 {
		t.Errorf("Backup = %#v", s.Backup)
	}
	if strings.Contains(strings.Join(viewKeys(p), " "), "skip") {
		t.Errorf("a passing step offers skip: %v", viewKeys(p))
	}

	// A second run with the same answers keeps the identical schedule files.
	p2 := NewWithOptions(Options{Name: "etcd-snapshot-test2"})
	if runTUI(t, p2, s); !p2.Ready() {
		t.Fatalf("second run: %v", p2.Err())
	}
}

func viewKeys(p *Step) []string {
	var out []string
	for _, k := range p.Keys() {
		out = append(out, k.Help().Desc)
	}
	return out
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

// TestPlainPath runs the form accessibly as the plain driver does, then RunPlain.
func TestPlainPath(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "snaps")
	s := newSession(t, srv, map[string]string{})
	p := NewWithOptions(Options{Name: "etcd-snapshot-plain"})
	d := &steptest.Driver{T: t, Step: p, Session: s}
	d.Run(p.Init(s))
	form := p.Form(s)
	if form == nil {
		t.Fatal("no form with no answers")
	}
	// dest, schedule 2 (cronjob), keep 4, write no.
	// One byte at a time: huh reads each prompt through a new bufio.Scanner, which would
	// swallow the later lines.
	in := iotest.OneByteReader(strings.NewReader(dest + "\n2\n4\nn\n"))
	if err := form.WithAccessible(true).WithInput(in).WithOutput(io.Discard).Run(); err != nil {
		t.Fatal(err)
	}
	d.Run(func() tea.Msg { return step.FormDone{} })
	if p.ans.dest != dest || p.ans.schedule != "cronjob" || p.ans.keep != 4 || p.ans.write {
		t.Fatalf("answers = %+v", p.ans)
	}
	if p.Ready() {
		t.Fatal("ready before the test ran")
	}
	var log bytes.Buffer
	if err := p.RunPlain(context.Background(), s, nil, &log); err != nil {
		t.Fatal(err)
	}
	if !p.Ready() {
		t.Fatalf("not ready: %v\n%s", p.Err(), log.String())
	}
	for _, want := range []string{"snapshot: testing " + srv.Endpoint, "snapshot: 100% ", "snapshot: saved; verifying"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dest, snapshot.CronJobFile)); !os.IsNotExist(err) {
		t.Errorf("schedule written though write=no: %v", err)
	}
	if v := p.View(step.Frame{R: plain.New()}); !strings.Contains(v, "save it as "+snapshot.CronJobFile) {
		t.Errorf("view does not offer the CronJob to copy:\n%s", v)
	}
}

func TestFormAsksOnlyMissing(t *testing.T) {
	s := newSession(t, nil, prefilled("/var/backups/etcd"))
	p := New()
	p.Init(s)
	if p.Form(s) != nil {
		t.Fatal("a form although every answer is known")
	}
	s = newSession(t, nil, map[string]string{KeySkip: "true"})
	p = New()
	if cmd := p.Init(s); cmd != nil || !p.Ready() || p.Form(s) != nil {
		t.Fatal("backup.skip=true does not skip the step")
	}
	if out := s.Backup; out == nil || !out.Skipped {
		t.Errorf("Backup = %#v", s.Backup)
	}
}

func TestBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		key, value, want string
	}{
		{KeySchedule, "weekly", "use one of none, cronjob, systemd, both"},
		{KeyKeep, "0", "from 1 to 1000"},
		{KeyDest, "backups", "absolute"},
		{KeySkip, "maybe", "true or false"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			a := prefilled("/var/backups/etcd", KeyKeep, "7", KeyWrite, "false")
			a[tc.key] = tc.value
			s := newSession(t, nil, a)
			p := New()
			d := &steptest.Driver{T: t, Step: p, Session: s}
			d.Run(p.Init(s))
			if len(d.Errs) != 1 || p.Ready() {
				t.Fatalf("errors %v, ready %v", d.Errs, p.Ready())
			}
			if msg := d.Errs[0].What; !strings.Contains(msg, tc.key) || !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not name %s and %q", msg, tc.key, tc.want)
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, nil, prefilled(dest))
	tls := testetcd.NewTLS(t, t.TempDir())
	ep := fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))
	s.Etcd = etcdconn.FromFlags([]string{ep}, tls.CA, tls.ClientCert, tls.ClientKey)
	p := New()
	d := runTUI(t, p, s)
	if p.Ready() || len(d.Errs) != 1 {
		t.Fatalf("ready %v, errors %v", p.Ready(), d.Errs)
	}
	e := d.Errs[0]
	if e.Path != ep || !strings.Contains(e.What, ep) || !strings.Contains(e.Fix, KeySkip) {
		t.Errorf("error view = %+v", e)
	}
	view := p.View(step.Frame{R: plain.New()})
	if !strings.Contains(view, "Endpoint: "+ep) {
		t.Errorf("view does not name the endpoint:\n%s", view)
	}
	if entries, _ := os.ReadDir(dest); hasSnapshot(entries) {
		t.Errorf("files left in %s: %v", dest, entries)
	}
	// s skips the step, which is then ready.
	d.Run(func() tea.Msg { return tea.KeyPressMsg{Code: 's', Text: "s"} })
	if !p.Ready() || !strings.Contains(p.View(step.Frame{R: plain.New()}), "Skipped") {
		t.Error("s does not skip a failed test")
	}
}

func hasSnapshot(entries []os.DirEntry) bool {
	for _, e := range entries {
		if strings.Contains(e.Name(), ".db") {
			return true
		}
	}
	return false
}

func TestMissingTLSFileNamesIt(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, nil, prefilled(dest))
	// No flags: the manifests name kube-apiserver's etcd client pair, which is not there.
	p := New()
	d := runTUI(t, p, s)
	if len(d.Errs) != 1 {
		t.Fatalf("errors %v", d.Errs)
	}
	want := filepath.Join(s.Layout.Root, "etc/kubernetes/pki/etcd/ca.crt")
	if e := d.Errs[0]; e.Path != want || !strings.Contains(e.What, "kube-apiserver.yaml --etcd-cafile") {
		t.Errorf("error view = %+v", e)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("destination made before the connection was known: %v", err)
	}
}

func TestTimeoutRemovesPartialFile(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, srv, prefilled(dest))
	p := NewWithOptions(Options{Timeout: time.Nanosecond})
	d := runTUI(t, p, s)
	if p.Ready() || len(d.Errs) != 1 || !strings.Contains(d.Errs[0].What, "did not finish within 1ns") {
		t.Fatalf("ready %v, errors %+v", p.Ready(), d.Errs)
	}
	if entries, _ := os.ReadDir(dest); hasSnapshot(entries) {
		t.Errorf("files left in %s: %v", dest, entries)
	}
}

func TestScheduleFileIsNotOverwritten(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "backups")
	if err := os.MkdirAll(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dest, snapshot.CronJobFile)
	if err := os.WriteFile(mine, []byte("# my edits\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, srv, prefilled(dest, KeySchedule, "cronjob", KeyKeep, "3", KeyWrite, "yes"))
	p := New()
	d := runTUI(t, p, s)
	if p.Ready() || len(d.Errs) != 1 || !strings.Contains(d.Errs[0].What, mine+" exists with other content") {
		t.Fatalf("ready %v, errors %+v", p.Ready(), d.Errs)
	}
	if data, _ := os.ReadFile(mine); string(data) != "# my edits\n" {
		t.Errorf("%s was changed: %q", mine, data)
	}
}

// TestResultGolden pins the result view in both backends at two widths, with the variable
// parts (paths, port, sizes, timings) replaced by fixed values before rendering.
func TestResultGolden(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, srv, prefilled(dest, KeySchedule, "systemd", KeyKeep, "5", KeyWrite, "false"))
	p := NewWithOptions(Options{Name: "etcd-snapshot-golden"})
	if runTUI(t, p, s); !p.Ready() {
		t.Fatalf("not ready: %v", p.Err())
	}
	// Every t.TempDir() of this test is under one folder.
	stabilise(t, p, filepath.Dir(filepath.Dir(dest)), srv.Endpoint)
	for _, size := range []struct{ w, h int }{{100, 30}, {60, 20}} {
		for name, r := range map[string]render.Renderer{"plain": plain.New(), "tui-dark": tui.New(tui.ThemeFor(true))} {
			t.Run(fmt.Sprintf("%s-%dx%d", name, size.w, size.h), func(t *testing.T) {
				golden.RequireEqual(t, []byte(steptest.TrueColor(p.View(step.Frame{R: r, Width: size.w, Height: size.h}))))
			})
		}
	}
}

// TestErrorGolden pins the view of a test that could not reach etcd.
func TestErrorGolden(t *testing.T) {
	dest := "/var/backups/etcd"
	s := newSession(t, nil, prefilled(dest))
	tls := testetcd.NewTLS(t, t.TempDir())
	s.Etcd = etcdconn.FromFlags([]string{fmt.Sprintf("https://127.0.0.1:%d", testetcd.FreePort(t))}, tls.CA, tls.ClientCert, tls.ClientKey)
	p := New()
	p.Init(s)
	// The destination checks would touch /var; the failure is what is pinned here.
	p.conn.Endpoints = []string{"https://127.0.0.1:2379"}
	p.phase, p.err = phaseDone, fmt.Errorf("connect to etcd at https://127.0.0.1:2379: context deadline exceeded")
	p.report = &snapshot.Report{Dest: dest, Checks: []snapshot.Check{
		{Name: snapshot.CheckExists, Status: snapshot.StatusPass, Message: dest + " exists"},
		{Name: snapshot.CheckFreeSpace, Status: snapshot.StatusWarn, Message: "etcd's size is unknown", Fix: "make sure there is room"},
	}}
	for name, r := range map[string]render.Renderer{"plain": plain.New(), "tui-dark": tui.New(tui.ThemeFor(true))} {
		t.Run(name, func(t *testing.T) {
			golden.RequireEqual(t, []byte(steptest.TrueColor(p.View(step.Frame{R: r, Width: 100, Height: 30}))))
		})
	}
}

var (
	sizeRE  = regexp.MustCompile(`\d+(\.\d+)? (B|KiB|MiB|GiB|TiB)\b`)
	roomRE  = regexp.MustCompile(`room for \d+ snapshots`)
	shaRE   = regexp.MustCompile(`sha256 [0-9a-f]+…`)
	pagesRE = regexp.MustCompile(`\d+ pages \(\d+ in use\)`)
)

// stabilise replaces what changes from run to run in the step's results: the temp folder
// becomes /ROOT, the endpoint's port 2379, sizes 1.0 MiB and every timing a fixed one.
func stabilise(t *testing.T, p *Step, tmp, endpoint string) {
	t.Helper()
	fix := func(s string) string {
		s = strings.ReplaceAll(s, tmp, "/ROOT")
		s = strings.ReplaceAll(s, endpoint, "https://127.0.0.1:2379")
		s = roomRE.ReplaceAllString(s, "room for 100 snapshots")
		s = shaRE.ReplaceAllString(s, "sha256 0123456789abcdef…")
		s = pagesRE.ReplaceAllString(s, "12 pages (9 in use)")
		return sizeRE.ReplaceAllString(s, "1.0 MiB")
	}
	data, err := json.Marshal(p.report)
	if err != nil {
		t.Fatal(err)
	}
	var r snapshot.Report
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	data, _ = json.Marshal(walk(raw, fix))
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	r.Save.Size, r.Save.Speed, r.Save.Duration = 1<<20, 50<<20, 20*time.Millisecond
	for i := range r.Verification.Steps {
		r.Verification.Steps[i].Took = time.Duration(i+1) * time.Millisecond
	}
	if r.Content != nil {
		r.Content.Took = time.Millisecond
	}
	p.report = &r
	p.ans.dest = fix(p.ans.dest)
	p.conn.Endpoints = []string{"https://127.0.0.1:2379"}
}

// walk applies fix to every string in a decoded JSON value.
func walk(v any, fix func(string) string) any {
	switch v := v.(type) {
	case string:
		return fix(v)
	case []any:
		for i := range v {
			v[i] = walk(v[i], fix)
		}
	case map[string]any:
		for k := range v {
			v[k] = walk(v[k], fix)
		}
	}
	return v
}

// TestCancelKeyStopsTheTest presses c right after the test starts: the save stops, its
// partial file is removed and the step offers to test again.
func TestCancelKeyStopsTheTest(t *testing.T) {
	srv := startEtcd(t)
	dest := filepath.Join(t.TempDir(), "backups")
	s := newSession(t, srv, prefilled(dest))
	p := New()
	d := &steptest.Driver{T: t, Step: p, Session: s}
	d.Run(p.Init(s))
	cmd := p.Update(s, tea.WindowSizeMsg{Width: 100, Height: 30})
	if p.phase != phaseRunning || !strings.Contains(strings.Join(viewKeys(p), " "), "cancel") {
		t.Fatalf("not running after the window size: phase %d", p.phase)
	}
	d.Run(func() tea.Msg { return tea.KeyPressMsg{Code: 'c', Text: "c"} })
	d.Run(cmd)
	if p.Ready() || len(d.Errs) != 1 || !strings.Contains(d.Errs[0].Fix, "cancelled") {
		t.Fatalf("ready %v, errors %+v", p.Ready(), d.Errs)
	}
	if entries, _ := os.ReadDir(dest); hasSnapshot(entries) {
		t.Errorf("files left in %s: %v", dest, entries)
	}
	// r runs it again, to a pass.
	d.Run(func() tea.Msg { return tea.KeyPressMsg{Code: 'r', Text: "r"} })
	if !p.Ready() {
		t.Fatalf("r did not test again: %v", p.Err())
	}
}

func TestProgressView(t *testing.T) {
	p := New()
	p.phase, p.ans.dest = phaseRunning, "/var/backups/etcd"
	p.conn.Endpoints = []string{"https://127.0.0.1:2379"}
	f := step.Frame{R: plain.New(), Width: 80}
	if v := p.View(f); !strings.Contains(v, "Checking the destination") {
		t.Errorf("before the first bytes:\n%s", v)
	}
	p.prog = snapshot.Progress{Bytes: 45 << 20, Total: 100 << 20, Speed: 20 << 20, ETA: 2750 * time.Millisecond}
	v := p.View(f)
	for _, want := range []string{" 45%", "45.0 MiB of 100.0 MiB · 20.0 MiB/s · about 3s left"} {
		if !strings.Contains(v, want) {
			t.Errorf("view lacks %q:\n%s", want, v)
		}
	}
	p.prog.Bytes = 100<<20 + 32
	if v := p.View(f); !strings.Contains(v, "verifying it") {
		t.Errorf("after the save:\n%s", v)
	}
}

// TestTUIFormStartsTheTest fills the embedded form with its defaults (enter, enter): the
// destination under the root and no schedule; the test then runs at once.
func TestTUIFormStartsTheTest(t *testing.T) {
	srv := startEtcd(t)
	s := newSession(t, srv, map[string]string{})
	p := NewWithOptions(Options{Name: "etcd-snapshot-form"})
	d := runTUI(t, p, s)
	if !p.CapturesKeys() || p.Ready() {
		t.Fatalf("form not active: phase %d", p.phase)
	}
	if v := p.View(step.Frame{R: plain.New(), Width: 100}); !strings.Contains(v, "Where should snapshots go?") {
		t.Fatalf("form view:\n%s", v)
	}
	for range 2 {
		d.Run(func() tea.Msg { return tea.KeyPressMsg{Code: tea.KeyEnter} })
	}
	if !p.Ready() {
		t.Fatalf("not ready after the form: phase %d, err %v\n%s", p.phase, p.Err(), p.View(step.Frame{R: plain.New()}))
	}
	assertMode(t, filepath.Join(DefaultDest(s), "etcd-snapshot-form.db"), 0o600)
}
