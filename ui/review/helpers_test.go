package review

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// testNow is the time of every plan and backup, so that key names, certificate dates
// and backup folders are the same in every run.
var testNow = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

var order = []string{"preflight", "encryption", "certs", "review", "backup", "summary"}

// pkgDir is this package's folder; tests move into a temp folder so that the node's
// root is the short relative path "node" in every view.
var pkgDir, _ = os.Getwd()

// nodeRoot lays out a kubeadm-like root "node" (relative to a new temp working folder)
// holding the shared manifests of set ("unhardened" or "hardened").
func nodeRoot(t *testing.T, set string) string {
	t.Helper()
	src := filepath.Join(pkgDir, "..", "..", "testdata", "manifests", set)
	t.Chdir(t.TempDir())
	root := "node"
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "var", "lib", "etcd"), 0o700))
	for _, name := range []string{discover.EtcdFile, discover.APIServerFile} {
		data, err := os.ReadFile(filepath.Join(src, name))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	return root
}

// newSession reads the node under root and plans with the wizard's own planners.
func newSession(t *testing.T, root string, answers map[string]string) *step.Session {
	t.Helper()
	layout := discover.Defaults(root, "", "")
	st, err := discover.Load(layout)
	must(t, err)
	s := &step.Session{Layout: layout, State: st, Checks: audit.Run(st, audit.Options{}), Plan: plan.New(root),
		Answers: answers, Values: map[string]any{}, Order: order}
	o := harden.Options{Now: testNow}
	must(t, s.SetPlanner("encryption", func(p *plan.Plan) error {
		res, err := harden.PlanEncryption(p, s.State, o)
		if err == nil && res.Action != encryption.ActionKept {
			s.Put(step.ValueEncryption, res)
		}
		return err
	}))
	must(t, s.SetPlanner("certs", func(p *plan.Plan) error {
		res, err := harden.PlanCerts(p, s.State, o)
		if err == nil {
			s.Put(step.ValueCerts, res)
		}
		return err
	}))
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// applyFiles is the wizard's apply without the wait for etcd (tested in steps/rollout):
// the real plan.Apply under the session's root, with backups, one line per phase.
func applyFiles(_ context.Context, s *step.Session, progress func(string)) (string, error) {
	progress("backing up the files it replaces")
	b, err := s.Plan.Apply(plan.ApplyOptions{
		Now: func() time.Time { return testNow },
		AfterWrite: func(c *plan.Change) error {
			progress("wrote /" + c.Path)
			return nil
		},
	})
	if err != nil {
		return "", err
	}
	progress("done")
	return b.Dir, nil
}

// savePlan is ui.savePlan (ui imports this package, so it cannot be called here):
// the plan written as `plan --out` writes it.
func savePlan(s *step.Session, dir string) error {
	r := &harden.Result{State: s.State, Plan: s.Plan, Before: s.Checks, Now: testNow}
	r.Encryption, _ = s.Values[step.ValueEncryption].(*encryption.Result)
	r.Certs, _ = s.Values[step.ValueCerts].(*harden.CertsResult)
	planned, err := harden.PlannedState(s.Plan, s.State)
	if err != nil {
		return err
	}
	r.Planned = planned
	if r.After, err = harden.AuditAfter(s.Plan, s.State); err != nil {
		return err
	}
	r.Steps = harden.RemainingSteps(r)
	return harden.WriteOut(dir, r, harden.WriteOptions{})
}

// driver runs the step's commands as the shell would, feeding their messages back,
// and keeps the error views the step sends.
type driver struct {
	t    *testing.T
	m    *Step
	s    *step.Session
	errs []render.Error
	// patience is how long one command may take; past it, the driver fails the test,
	// or, when abandon is set, drops the command (an apply that waits for Cancel).
	patience time.Duration
	abandon  bool
}

func newDriver(t *testing.T, m *Step, s *step.Session) *driver {
	t.Helper()
	d := &driver{t: t, m: m, s: s, patience: 20 * time.Second}
	d.run(m.Init(s))
	return d
}

// run runs cmd and every command that follows from it until no work is left. Spinner
// ticks and cursor blinks are dropped: they never end.
func (d *driver) run(cmd tea.Cmd) {
	d.t.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 1000 {
			d.t.Fatal("the step keeps sending commands")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil || blinks(c) {
			continue
		}
		msg, ok := d.call(c)
		if !ok || msg == nil {
			continue
		}
		if cmds, ok := expand(msg); ok {
			queue = append(queue, cmds...)
			continue
		}
		switch msg := msg.(type) {
		case spinner.TickMsg:
		case step.ErrorMsg:
			d.errs = append(d.errs, msg.Err)
		default:
			if strings.Contains(fmt.Sprintf("%T", msg), "Blink") {
				continue
			}
			queue = append(queue, d.m.Update(d.s, msg))
		}
	}
}

// blinks reports whether c is a text cursor's blink, which sleeps half a second and
// then asks for the next one.
func blinks(c tea.Cmd) bool {
	return strings.Contains(runtime.FuncForPC(reflect.ValueOf(c).Pointer()).Name(), "cursor.(*Model).Blink")
}

func (d *driver) call(c tea.Cmd) (tea.Msg, bool) {
	d.t.Helper()
	ch := make(chan tea.Msg, 1)
	go func() { ch <- c() }()
	select {
	case msg := <-ch:
		return msg, true
	case <-time.After(d.patience):
		if !d.abandon {
			d.t.Fatalf("a command of the step did not return in %s", d.patience)
		}
		return nil, false
	}
}

// expand opens tea.Batch and tea.Sequence messages (the latter's type is unexported).
func expand(msg tea.Msg) ([]tea.Cmd, bool) {
	if b, ok := msg.(tea.BatchMsg); ok {
		return b, true
	}
	v := reflect.ValueOf(msg)
	if v.Kind() == reflect.Slice && v.Type().Elem() == reflect.TypeFor[tea.Cmd]() {
		cmds := make([]tea.Cmd, v.Len())
		for i := range cmds {
			cmds[i] = v.Index(i).Interface().(tea.Cmd)
		}
		return cmds, true
	}
	return nil, false
}

// press sends each key as the shell would while the step has focus.
func (d *driver) press(keys ...string) {
	d.t.Helper()
	for _, k := range keys {
		msg := keyMsg(k)
		d.run(func() tea.Msg { return msg })
	}
}

// typeText sends each rune of text as a key press.
func (d *driver) typeText(text string) {
	d.t.Helper()
	for _, r := range text {
		msg := tea.KeyPressMsg{Code: r, Text: string(r)}
		d.run(func() tea.Msg { return msg })
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	return tea.KeyPressMsg{Code: rune(k[0]), Text: k}
}

// snapshot is every file and folder under root: mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		if e.IsDir() {
			out[p] = info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(p)
		out[p] = info.Mode().String() + " " + string(data)
		return err
	})
	must(t, err)
	return out
}

func sameFiles(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was written", p)
		}
	}
}
