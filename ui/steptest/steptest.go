// Package steptest runs the wizard's steps in tests as the shell would: a node root
// holding the shared manifests, a session over it, the loop that feeds a step the
// messages of its commands, key presses, and the step's views in both renderers.
// It is imported only by tests.
package steptest

import (
	"bytes"
	"crypto/sha256"
	"errors"
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
	"github.com/charmbracelet/colorprofile"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Order is the wizard's order of steps, as the sessions of the tests use it.
var Order = []string{"preflight", "encryption", "certs", "review", "backup", "summary"}

// manifests is the module's testdata/manifests, found from the working folder when the
// test binary starts (tests may move into temp folders later).
var manifests, manifestsErr = findManifests()

func findManifests() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "testdata", "manifests"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("steptest: no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Manifests copies the shared manifests of pair ("unhardened" or "hardened") into
// root/etc/kubernetes/manifests, making the folders.
func Manifests(t testing.TB, root, pair string) {
	t.Helper()
	if manifestsErr != nil {
		t.Fatal(manifestsErr)
	}
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{discover.EtcdFile, discover.APIServerFile} {
		data, err := os.ReadFile(filepath.Join(manifests, pair, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Root returns a new temp node root holding the shared manifests of pair.
func Root(t testing.TB, pair string) string {
	t.Helper()
	root := t.TempDir()
	Manifests(t, root, pair)
	return root
}

// NodeRoot moves the test into a new temp folder and lays out the node root "node"
// there, holding the shared manifests of pair and an empty etcd data folder: a short
// relative root reads the same in every view.
func NodeRoot(t testing.TB, pair string) string {
	t.Helper()
	t.Chdir(t.TempDir())
	const root = "node"
	Manifests(t, root, pair)
	if err := os.MkdirAll(filepath.Join(root, "var", "lib", "etcd"), 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

// Session reads the node under root into a session with an empty plan and answers.
func Session(t testing.TB, root string, answers map[string]string) *step.Session {
	t.Helper()
	layout := discover.Defaults(root, "", "")
	st, err := discover.Load(layout)
	if err != nil {
		t.Fatal(err)
	}
	return &step.Session{Layout: layout, State: st, Plan: plan.New(root), Answers: answers, Order: Order}
}

// SavePlan writes the session's plan as `plan --out` does, made at now. It stands in
// for the ui package's own, which step tests cannot import (ui imports the steps).
func SavePlan(now time.Time) func(s *step.Session, dir string) error {
	return func(s *step.Session, dir string) error {
		r, err := s.HardenResult(now)
		if err != nil {
			return err
		}
		return harden.WriteOut(dir, r, harden.WriteOptions{})
	}
}

// Driver runs a step's commands as the shell does, feeding their messages back, and
// keeps the error views the step sends. Cursor blinks and spinner ticks are dropped:
// they never end.
type Driver struct {
	T       testing.TB
	Step    step.Step
	Session *step.Session
	// Wait is how long one command may run (30s when zero). A command still running
	// then fails the test, or is dropped when Abandon is set (work that waits for Cancel).
	Wait    time.Duration
	Abandon bool
	// Errs are the error views the step sent.
	Errs []render.Error
}

// Run runs cmd and every command that follows from it until no work is left.
func (d *Driver) Run(cmd tea.Cmd) {
	d.T.Helper()
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 1000 {
			d.T.Fatal("the step keeps sending commands")
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
			d.Errs = append(d.Errs, msg.Err)
		default:
			if strings.Contains(fmt.Sprintf("%T", msg), "Blink") {
				continue
			}
			queue = append(queue, d.Step.Update(d.Session, msg))
		}
	}
}

// Press sends each key (see Key) as the shell would while the step has focus.
func (d *Driver) Press(keys ...string) {
	d.T.Helper()
	for _, k := range keys {
		msg := Key(k)
		d.Run(func() tea.Msg { return msg })
	}
}

// Type sends each rune of text as a key press.
func (d *Driver) Type(text string) {
	d.T.Helper()
	for _, r := range text {
		msg := tea.KeyPressMsg{Code: r, Text: string(r)}
		d.Run(func() tea.Msg { return msg })
	}
}

func (d *Driver) call(c tea.Cmd) (tea.Msg, bool) {
	d.T.Helper()
	wait := d.Wait
	if wait == 0 {
		wait = 30 * time.Second
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- c() }()
	select {
	case msg := <-ch:
		return msg, true
	case <-time.After(wait):
		if !d.Abandon {
			d.T.Fatalf("a command of the step did not return in %s", wait)
		}
		return nil, false
	}
}

// blinks reports whether c is a text cursor's blink, which sleeps half a second and
// then asks for the next one.
func blinks(c tea.Cmd) bool {
	return strings.Contains(runtime.FuncForPC(reflect.ValueOf(c).Pointer()).Name(), "cursor.(*Model).Blink")
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

// Drive runs cmd on st with a default Driver and returns the error views st sent.
func Drive(t testing.TB, st step.Step, s *step.Session, cmd tea.Cmd) []render.Error {
	t.Helper()
	d := &Driver{T: t, Step: st, Session: s}
	d.Run(cmd)
	return d.Errs
}

// Press sends each key to st with a default Driver and returns the error views st sent.
func Press(t testing.TB, st step.Step, s *step.Session, keys ...string) []render.Error {
	t.Helper()
	d := &Driver{T: t, Step: st, Session: s}
	d.Press(keys...)
	return d.Errs
}

// Key is the key press k names: "enter", "esc", "tab", "up", "down", "left", "right",
// "pgup", "pgdown", "ctrl+<letter>", or one character typed.
func Key(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	}
	if c, ok := strings.CutPrefix(k, "ctrl+"); ok && len(c) == 1 {
		return tea.KeyPressMsg{Code: rune(c[0]), Mod: tea.ModCtrl}
	}
	return tea.KeyPressMsg{Code: rune(k[0]), Text: k}
}

// TrueColor is s as a true-colour terminal gets it: the colour profile pinned, so
// goldens do not depend on the terminal that runs the tests.
func TrueColor(s string) string {
	var b bytes.Buffer
	w := &colorprofile.Writer{Forward: &b, Profile: colorprofile.TrueColor}
	_, _ = w.WriteString(s)
	return b.String()
}

// Views draws st with the plain and the (dark) terminal renderer at each width, 30
// lines high, keyed "plain_<width>" and "tui_<width>".
func Views(st step.Step, widths ...int) map[string]string {
	out := map[string]string{}
	for _, w := range widths {
		out[fmt.Sprintf("plain_%d", w)] = st.View(step.Frame{R: plain.New(), Width: w, Height: 30})
		out[fmt.Sprintf("tui_%d", w)] = TrueColor(st.View(step.Frame{R: tui.New(tui.ThemeFor(true)), Width: w, Height: 30, Dark: true}))
	}
	return out
}

// NoSecret fails the test when any of secrets shows in a view of st (see Views) or in
// the session's patch.
func NoSecret(t testing.TB, st step.Step, s *step.Session, secrets ...string) {
	t.Helper()
	patch := string(s.Plan.Patch())
	for _, sec := range secrets {
		if sec == "" {
			t.Fatal("empty secret to look for")
		}
		for name, v := range Views(st, 100, 60) {
			if strings.Contains(v, sec) {
				t.Errorf("%s view shows a key:\n%s", name, v)
			}
		}
		if strings.Contains(patch, sec) {
			t.Errorf("the patch holds a key:\n%s", patch)
		}
	}
}

// Tree records every file and folder under root: its mode, and a file's sha256.
func Tree(t testing.TB, root string) map[string]string {
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
		rel, _ := filepath.Rel(root, p)
		if e.IsDir() {
			out[rel] = info.Mode().String()
			return nil
		}
		data, err := os.ReadFile(p)
		out[rel] = fmt.Sprintf("%s %x", info.Mode(), sha256.Sum256(data))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SameTree fails t for every file or folder under root that is not as before recorded
// it (Tree): nothing written, changed or removed.
func SameTree(t testing.TB, root string, before map[string]string) {
	t.Helper()
	after := Tree(t, root)
	for p, v := range before {
		if w, ok := after[p]; !ok {
			t.Errorf("%s was removed", p)
		} else if w != v {
			t.Errorf("%s changed", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s was written", p)
		}
	}
}
