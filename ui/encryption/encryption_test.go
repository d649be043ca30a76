package encryption

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	enc "github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

var testNow = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

const apiserverRel = "etc/kubernetes/manifests/kube-apiserver.yaml"

// testRoot lays out a node root holding the shared manifests of pair.
func testRoot(t *testing.T, pair string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"etcd.yaml", "kube-apiserver.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", pair, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// writeConfig puts an encryption config where the hardened kube-apiserver.yaml points,
// with a fresh aescbc key (or identity first), and returns the key's base64.
func writeConfig(t *testing.T, root string, identityFirst bool) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	secret := base64.StdEncoding.EncodeToString(raw)
	aescbc := "      - aescbc:\n          keys:\n          - name: key1\n            secret: " + secret + "\n"
	identity := "      - identity: {}\n"
	providers := aescbc + identity
	if identityFirst {
		providers = identity + aescbc
	}
	cfg := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n" + providers
	path := filepath.Join(root, "etc", "kubernetes", "enc", "encryption-config.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return secret
}

func newSession(t *testing.T, root string, answers map[string]string) *step.Session {
	t.Helper()
	layout := discover.Defaults(root, "", "")
	st, err := discover.Load(layout)
	if err != nil {
		t.Fatal(err)
	}
	return &step.Session{Layout: layout, State: st, Plan: plan.New(root), Answers: answers,
		Order: []string{"preflight", "encryption", "certs", "review", "backup", "summary"}}
}

func newStep() *Step {
	p := New()
	p.now = func() time.Time { return testNow }
	return p
}

// run drives the step like the shell: it runs cmd and every command that follows,
// feeding the messages back. Commands that do not answer quickly (cursor blinks) are
// dropped. It returns the errors the step sent to the shell.
func run(t *testing.T, p *Step, s *step.Session, cmd tea.Cmd) []render.Error {
	t.Helper()
	var errs []render.Error
	queue := []tea.Cmd{cmd}
	for n := 0; len(queue) > 0; n++ {
		if n > 500 {
			t.Fatal("the step keeps sending commands")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg, ok := quick(c)
		if !ok || msg == nil {
			continue
		}
		if cmds, ok := expand(msg); ok {
			queue = append(queue, cmds...)
			continue
		}
		switch msg := msg.(type) {
		case step.ErrorMsg:
			errs = append(errs, msg.Err)
		default:
			queue = append(queue, p.Update(s, msg))
		}
	}
	return errs
}

// quick runs c, giving up after a short while.
func quick(c tea.Cmd) (tea.Msg, bool) {
	ch := make(chan tea.Msg, 1)
	go func() { ch <- c() }()
	select {
	case m := <-ch:
		return m, true
	case <-time.After(100 * time.Millisecond):
		return nil, false
	}
}

// expand opens tea.Batch and tea.Sequence messages.
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

func press(t *testing.T, p *Step, s *step.Session, keys ...string) []render.Error {
	t.Helper()
	var errs []render.Error
	for _, k := range keys {
		msg := tea.KeyPressMsg{Code: rune(k[0]), Text: k}
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		}
		errs = append(errs, run(t, p, s, func() tea.Msg { return msg })...)
	}
	return errs
}

// views renders the step with both backends at both widths.
func views(p *Step) map[string]string {
	out := map[string]string{}
	for _, w := range []int{100, 60} {
		out[fmt.Sprintf("plain_%d", w)] = p.View(step.Frame{R: plain.New(), Width: w, Height: 30})
		var b bytes.Buffer
		cw := &colorprofile.Writer{Forward: &b, Profile: colorprofile.TrueColor}
		_, _ = cw.WriteString(p.View(step.Frame{R: tui.New(tui.ThemeFor(true)), Width: w, Height: 30, Dark: true}))
		out[fmt.Sprintf("tui_%d", w)] = b.String()
	}
	return out
}

// assertNoSecret fails when any secret appears in the views or the patch.
func assertNoSecret(t *testing.T, p *Step, s *step.Session, secrets ...string) {
	t.Helper()
	patch := string(s.Plan.Patch())
	for _, sec := range secrets {
		if sec == "" {
			t.Fatal("empty secret to look for")
		}
		for name, v := range views(p) {
			if strings.Contains(v, sec) {
				t.Errorf("%s view shows a key:\n%s", name, v)
			}
		}
		if strings.Contains(patch, sec) {
			t.Errorf("the patch holds a key:\n%s", patch)
		}
	}
}

// theKey is the step's key as the config holds it.
func theKey(t *testing.T, p *Step) string {
	t.Helper()
	if p.res == nil || p.res.Key.IsZero() {
		t.Fatal("no key planned")
	}
	return p.res.Key.Reveal()
}

var prefilled = map[string]string{
	KeyProvider: "secretbox", KeyResources: "secrets", KeyCustom: "", KeyKeyName: "key-20250314",
	KeyAutoReload: "false", KeyRotate: "false",
}

func clone(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestPrefilledAnswersPlanANewConfig(t *testing.T) {
	root := testRoot(t, "unhardened")
	s := newSession(t, root, clone(prefilled))
	p := newStep()
	if errs := run(t, p, s, p.Init(s)); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	if p.Form(s) != nil {
		t.Fatal("Form is not nil although every answer was given")
	}
	if !p.Ready() {
		t.Fatalf("not ready:\n%s", p.View(step.Frame{R: plain.New()}))
	}
	cfg := s.Plan.Find("etc/kubernetes/enc/encryption-config.yaml")
	if cfg == nil || !cfg.Secret || cfg.Mode != 0o600 {
		t.Fatalf("config change = %+v, want a secret 0600 file", cfg)
	}
	key := theKey(t, p)
	if !bytes.Contains(cfg.New, []byte(key)) || !bytes.Contains(cfg.New, []byte("secretbox")) {
		t.Fatalf("the config does not hold the step's key:\n%s", cfg.New)
	}
	api := s.Plan.Find(apiserverRel)
	if api == nil || !bytes.Contains(api.New, []byte("--encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml")) {
		t.Fatalf("kube-apiserver.yaml is not edited: %+v", api)
	}
	assertNoSecret(t, p, s, key)
	// Replanning (another step's planner) gives the same config: the key is made once.
	before := string(cfg.New)
	if err := s.SetPlanner("certs", nil); err != nil {
		t.Fatal(err)
	}
	if got := string(s.Plan.Find("etc/kubernetes/enc/encryption-config.yaml").New); got != before {
		t.Fatal("replanning changed the config: the key is not made once")
	}
}

func TestRotateExistingConfig(t *testing.T) {
	for _, identityFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("identityFirst=", identityFirst), func(t *testing.T) {
			root := testRoot(t, "hardened")
			old := writeConfig(t, root, identityFirst)
			answers := clone(prefilled)
			delete(answers, KeyRotate)
			s := newSession(t, root, answers)
			p := newStep()
			run(t, p, s, p.Init(s))
			if got := p.rotateForced(); got != identityFirst {
				t.Fatalf("rotateForced = %v, want %v", got, identityFirst)
			}
			if p.a.rotate != true {
				t.Fatal("rotation is not the default for an aescbc config")
			}
			if p.Form(s) == nil {
				t.Fatal("the rotate question is not asked")
			}
			run(t, p, s, func() tea.Msg { return step.FormDone{} })
			if !p.Ready() || p.res.Action != enc.ActionRotated {
				t.Fatalf("not rotated: %+v %v", p.res, p.err)
			}
			if len(p.res.RemainingSteps) == 0 || !strings.Contains(strings.Join(p.res.OldKeys, ","), "aescbc:key1") {
				t.Fatalf("result = %+v", p.res)
			}
			assertNoSecret(t, p, s, old, theKey(t, p))
		})
	}
}

func TestKeepsAGoodConfigByDefault(t *testing.T) {
	root := testRoot(t, "hardened")
	s := newSession(t, root, map[string]string{KeyProvider: "secretbox"})
	p := newStep()
	// A secretbox config, made by the step itself on a fresh root.
	s0 := newSession(t, testRoot(t, "unhardened"), clone(prefilled))
	p0 := newStep()
	run(t, p0, s0, p0.Init(s0))
	cfg := s0.Plan.Find("etc/kubernetes/enc/encryption-config.yaml").New
	dir := filepath.Join(root, "etc", "kubernetes", "enc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "encryption-config.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, p, s, p.Init(s))
	if !p.encryptsWell() || p.a.rotate {
		t.Fatalf("encryptsWell = %v, rotate default = %v; want true, false", p.encryptsWell(), p.a.rotate)
	}
	run(t, p, s, func() tea.Msg { return step.FormDone{} })
	if !p.Ready() || p.res.Action != enc.ActionKept {
		t.Fatalf("action = %+v, err %v", p.res, p.err)
	}
}

func TestAccessibleForm(t *testing.T) {
	cases := []struct {
		name, input string
		check       func(t *testing.T, p *Step, s *step.Session)
	}{
		{
			// aesgcm, add configmaps, one custom resource, default key name, reload on.
			name: "aesgcm", input: "2\n2\n0\npandas.awesome.bears.example\n\ny\n",
			check: func(t *testing.T, p *Step, s *step.Session) {
				if p.a.provider != enc.AESGCM || strings.Join(p.a.allResources(), ",") != "secrets,configmaps,pandas.awesome.bears.example" ||
					p.a.keyName != "key-20250314" || !p.a.autoReload {
					t.Fatalf("answers = %+v", p.a)
				}
				if s.Answers[KeyAutoReload] != "true" || s.Answers[KeyProvider] != "aesgcm" {
					t.Fatalf("session answers = %v", s.Answers)
				}
				if !bytes.Contains(s.Plan.Find(apiserverRel).New, []byte(enc.ReloadFlag+"=true")) {
					t.Fatal("automatic reload flag not planned")
				}
				theKey(t, p)
			},
		},
		{
			name: "kms", input: "4\nvault\nunix:///var/run/kms.sock\n0\n\n\n",
			check: func(t *testing.T, p *Step, s *step.Session) {
				if p.res.Provider != enc.KMS || !p.res.Key.IsZero() {
					t.Fatalf("result = %+v", p.res)
				}
				cfg := s.Plan.Find("etc/kubernetes/enc/encryption-config.yaml")
				if !bytes.Contains(cfg.New, []byte("unix:///var/run/kms.sock")) {
					t.Fatalf("config:\n%s", cfg.New)
				}
				if len(p.keys) != 0 {
					t.Fatal("a key was made for kms")
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSession(t, testRoot(t, "unhardened"), nil)
			p := newStep()
			run(t, p, s, p.Init(s))
			form := p.Form(s)
			if form == nil {
				t.Fatal("no form although nothing was answered")
			}
			var out bytes.Buffer
			// One byte at a time: huh reads each answer with a new bufio.Scanner.
			in := iotest.OneByteReader(strings.NewReader(c.input))
			if err := form.WithAccessible(true).WithInput(in).WithOutput(&out).Run(); err != nil {
				t.Fatal(err)
			}
			if errs := run(t, p, s, func() tea.Msg { return step.FormDone{} }); len(errs) > 0 {
				t.Fatalf("errors: %+v\n%s", errs, out.String())
			}
			if !p.Ready() {
				t.Fatalf("not ready: %v\n%s", p.err, out.String())
			}
			if strings.Contains(out.String(), "\x1b") {
				t.Errorf("the accessible form writes escape codes:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "current config: none") {
				t.Errorf("the form does not say what exists:\n%s", out.String())
			}
			if c.name == "aesgcm" && strings.Contains(out.String(), "KMS plugin name") {
				t.Errorf("the kms questions were asked for aesgcm:\n%s", out.String())
			}
			c.check(t, p, s)
		})
	}
}

func TestTerminalFormAndReveal(t *testing.T) {
	s := newSession(t, testRoot(t, "unhardened"), nil)
	p := newStep()
	run(t, p, s, p.Init(s))
	run(t, p, s, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	if !p.CapturesKeys() || p.Ready() {
		t.Fatal("the form is not active")
	}
	if v := p.View(step.Frame{R: plain.New(), Width: 100}); !strings.Contains(v, "Provider of the new key") {
		t.Fatalf("the form is not shown:\n%s", v)
	}
	for i := 0; p.form != nil && i < 20; i++ {
		press(t, p, s, "enter")
	}
	if !p.Ready() || p.res.Provider != enc.Secretbox {
		t.Fatalf("enter through the defaults did not plan secretbox: %+v %v\n%s", p.res, p.err, p.View(step.Frame{R: plain.New()}))
	}
	key := theKey(t, p)
	assertNoSecret(t, p, s, key)
	press(t, p, s, "r")
	v := p.View(step.Frame{R: plain.New()})
	if !strings.Contains(v, "Show the new key on screen?") || strings.Contains(v, key) || !p.CapturesKeys() {
		t.Fatalf("r does not ask first:\n%s", v)
	}
	press(t, p, s, "n")
	assertNoSecret(t, p, s, key)
	press(t, p, s, "r", "y")
	if v := p.View(step.Frame{R: plain.New()}); !strings.Contains(v, key) {
		t.Fatalf("r, y does not show the key:\n%s", v)
	}
	press(t, p, s, "r")
	assertNoSecret(t, p, s, key)
	// e asks again; a new provider gets its own key, the old one is kept for it.
	press(t, p, s, "e")
	if p.form == nil {
		t.Fatal("e did not open the form again")
	}
	press(t, p, s, "down", "down")
	for i := 0; p.form != nil && i < 20; i++ {
		press(t, p, s, "enter")
	}
	if p.res == nil || p.res.Provider != enc.AESCBC || theKey(t, p) == key {
		t.Fatalf("edit did not replan with a new key: %+v", p.res)
	}
}

func TestBadAnswersAreRefused(t *testing.T) {
	cases := []struct {
		name    string
		answers map[string]string
		want    string
	}{
		{"provider", map[string]string{KeyProvider: "rot13"}, `answer encryption.provider="rot13": unknown encryption provider`},
		{"rotate", map[string]string{KeyRotate: "maybe"}, "encryption.rotate"},
		{"key name", func() map[string]string { a := clone(prefilled); a[KeyKeyName] = "a:b"; return a }(), "must not contain ':'"},
		{"resource", func() map[string]string { a := clone(prefilled); a[KeyCustom] = "Pandas"; return a }(), "lower case"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSession(t, testRoot(t, "unhardened"), c.answers)
			p := newStep()
			errs := run(t, p, s, p.Init(s))
			if len(errs) != 1 || !strings.Contains(errs[0].What, c.want) || errs[0].Fix == "" {
				t.Fatalf("errors = %+v, want one with %q and a fix", errs, c.want)
			}
			if p.Ready() || !s.Plan.Empty() {
				t.Fatal("a refused answer left the step ready or the plan changed")
			}
			if v := p.View(step.Frame{R: plain.New()}); !strings.Contains(v, c.want) {
				t.Fatalf("the view does not show the error:\n%s", v)
			}
		})
	}
}

func TestNoAPIServer(t *testing.T) {
	root := testRoot(t, "unhardened")
	if err := os.Remove(filepath.Join(root, apiserverRel)); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, root, nil)
	p := newStep()
	errs := run(t, p, s, p.Init(s))
	if len(errs) != 1 || !strings.Contains(errs[0].Fix, "control-plane node") || p.Ready() || p.Form(s) != nil {
		t.Fatalf("errors = %+v", errs)
	}
}

// TestGolden pins the planned views: a new config and a rotation, in both backends.
func TestGolden(t *testing.T) {
	for _, c := range []string{"new", "rotate"} {
		t.Run(c, func(t *testing.T) {
			pair := map[string]string{"new": "unhardened", "rotate": "hardened"}[c]
			root := testRoot(t, pair)
			if c == "rotate" {
				writeConfig(t, root, false)
			}
			// A relative root keeps the wrapped paths the same whatever the temp folder.
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			t.Chdir(filepath.Dir(root))
			answers := clone(prefilled)
			answers[KeyRotate] = "true"
			s := newSession(t, filepath.Base(root), answers)
			p := newStep()
			run(t, p, s, p.Init(s))
			if !p.Ready() {
				t.Fatalf("not ready: %v", p.err)
			}
			vs := views(p)
			t.Chdir(wd)
			for name, v := range vs {
				t.Run(name, func(t *testing.T) {
					if strings.HasPrefix(name, "plain") && strings.Contains(v, "\x1b") {
						t.Error("the plain view has escape codes")
					}
					golden.RequireEqual(t, []byte(v+"\n"))
				})
			}
		})
	}
}

func TestWarnsAboutTheFlagInEtcdYAML(t *testing.T) {
	root := testRoot(t, "unhardened")
	path := filepath.Join(root, "etc", "kubernetes", "manifests", "etcd.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("    - --data-dir=/var/lib/etcd\n"),
		[]byte("    - --data-dir=/var/lib/etcd\n    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n"), 1)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := newSession(t, root, clone(prefilled))
	p := newStep()
	run(t, p, s, p.Init(s))
	if !p.Ready() {
		t.Fatalf("not ready: %v", p.err)
	}
	etcd := s.Plan.Find("etc/kubernetes/manifests/etcd.yaml")
	if etcd == nil || bytes.Contains(etcd.New, []byte("encryption-provider-config")) {
		t.Fatal("the flag is not removed from etcd.yaml")
	}
	v := p.View(step.Frame{R: plain.New()})
	if !strings.Contains(v, "[WARN]") || !strings.Contains(v, "belongs to kube-apiserver") {
		t.Fatalf("the view does not warn about the flag:\n%s", v)
	}
}
