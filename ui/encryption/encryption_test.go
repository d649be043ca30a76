package encryption

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/render/plain"
	enc "github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

var testNow = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

const apiserverRel = "etc/kubernetes/manifests/kube-apiserver.yaml"

// writeConfig puts an encryption config where the hardened kube-apiserver.yaml points,
// with a fresh aescbc key (or identity first), and returns the key's base64.
func writeConfig(t *testing.T, root string, identityFirst bool) string {
	t.Helper()
	secret := randomKey(t)
	aescbc := "      - aescbc:\n          keys:\n          - name: key1\n            secret: " + secret + "\n"
	identity := "      - identity: {}\n"
	providers := aescbc + identity
	if identityFirst {
		providers = identity + aescbc
	}
	cfg := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n" + providers
	putConfig(t, root, cfg)
	return secret
}

// putConfig writes cfg where the hardened kube-apiserver.yaml points.
func putConfig(t *testing.T, root, cfg string) {
	t.Helper()
	path := filepath.Join(root, "etc", "kubernetes", "enc", "encryption-config.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// randomKey is a fresh 32-byte key, in base64 as a config holds it.
func randomKey(t *testing.T) string {
	t.Helper()
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(raw)
}

// writeRotatedConfig puts a config that writes Secrets with secretbox key-new and still
// reads aescbc key-old where the hardened kube-apiserver.yaml points.
func writeRotatedConfig(t *testing.T, root string) {
	t.Helper()
	cfg := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n" +
		"  - secretbox: {keys: [{name: key-new, secret: " + randomKey(t) + "}]}\n" +
		"  - aescbc: {keys: [{name: key-old, secret: " + randomKey(t) + "}]}\n  - identity: {}\n"
	putConfig(t, root, cfg)
}

// scanOf scans the etcd srv as the wizard does, through the project's connection.
func scanOf(srv *testetcd.Server) func([]string) (*enc.StatusReport, error) {
	conn := etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
	return func(resources []string) (*enc.StatusReport, error) {
		return enc.Scan(context.Background(), conn, resources, nil, time.Minute)
	}
}

func newStep() *Step {
	p := New()
	p.now = func() time.Time { return testNow }
	return p
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

func TestPrefilledAnswersPlanANewConfig(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	s := steptest.Session(t, root, maps.Clone(prefilled))
	p := newStep()
	if errs := steptest.Drive(t, p, s, p.Init(s)); len(errs) > 0 {
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
	steptest.NoSecret(t, p, s, key)
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
			root := steptest.Root(t, "hardened")
			old := writeConfig(t, root, identityFirst)
			answers := maps.Clone(prefilled)
			delete(answers, KeyRotate)
			s := steptest.Session(t, root, answers)
			p := newStep()
			steptest.Drive(t, p, s, p.Init(s))
			if got := p.rotateForced(); got != identityFirst {
				t.Fatalf("rotateForced = %v, want %v", got, identityFirst)
			}
			if p.a.rotate != true {
				t.Fatal("rotation is not the default for an aescbc config")
			}
			if p.Form(s) == nil {
				t.Fatal("the rotate question is not asked")
			}
			steptest.Drive(t, p, s, func() tea.Msg { return step.FormDone{} })
			if !p.Ready() || p.res.Action != enc.ActionRotated {
				t.Fatalf("not rotated: %+v %v", p.res, p.Err())
			}
			if len(p.res.RemainingSteps) == 0 || !strings.Contains(strings.Join(p.res.OldKeys, ","), "aescbc:key1") {
				t.Fatalf("result = %+v", p.res)
			}
			steptest.NoSecret(t, p, s, old, theKey(t, p))
		})
	}
}

func TestKeepsAGoodConfigByDefault(t *testing.T) {
	root := steptest.Root(t, "hardened")
	s := steptest.Session(t, root, map[string]string{KeyProvider: "secretbox"})
	p := newStep()
	// A secretbox config, made by the step itself on a fresh root.
	s0 := steptest.Session(t, steptest.Root(t, "unhardened"), maps.Clone(prefilled))
	p0 := newStep()
	steptest.Drive(t, p0, s0, p0.Init(s0))
	cfg := s0.Plan.Find("etc/kubernetes/enc/encryption-config.yaml").New
	dir := filepath.Join(root, "etc", "kubernetes", "enc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "encryption-config.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	steptest.Drive(t, p, s, p.Init(s))
	if !p.encryptsWell() || p.a.rotate {
		t.Fatalf("encryptsWell = %v, rotate default = %v; want true, false", p.encryptsWell(), p.a.rotate)
	}
	steptest.Drive(t, p, s, func() tea.Msg { return step.FormDone{} })
	if !p.Ready() || p.res.Action != enc.ActionKept {
		t.Fatalf("action = %+v, err %v", p.res, p.Err())
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
			s := steptest.Session(t, steptest.Root(t, "unhardened"), nil)
			p := newStep()
			steptest.Drive(t, p, s, p.Init(s))
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
			if errs := steptest.Drive(t, p, s, func() tea.Msg { return step.FormDone{} }); len(errs) > 0 {
				t.Fatalf("errors: %+v\n%s", errs, out.String())
			}
			if !p.Ready() {
				t.Fatalf("not ready: %v\n%s", p.Err(), out.String())
			}
			if strings.Contains(out.String(), "\x1b") {
				t.Errorf("the accessible form writes escape codes:\n%s", out.String())
			}
			if !strings.Contains(out.String(), "current config: none") {
				t.Errorf("the form does not say what exists:\n%s", out.String())
			}
			// The aescbc choice names the guide as the rest of the product does (issue 11).
			if !strings.Contains(out.String(), "aescbc — weak: padding-oracle; for FIPS rules or labs from a widely copied guide") ||
				strings.Contains(out.String(), "seed guide") {
				t.Errorf("the aescbc choice does not name a widely copied guide:\n%s", out.String())
			}
			if c.name == "aesgcm" && strings.Contains(out.String(), "KMS plugin name") {
				t.Errorf("the kms questions were asked for aesgcm:\n%s", out.String())
			}
			c.check(t, p, s)
		})
	}
}

func TestTerminalFormAndReveal(t *testing.T) {
	s := steptest.Session(t, steptest.Root(t, "unhardened"), nil)
	p := newStep()
	steptest.Drive(t, p, s, p.Init(s))
	steptest.Drive(t, p, s, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	if !p.CapturesKeys() || p.Ready() {
		t.Fatal("the form is not active")
	}
	if v := p.View(step.Frame{R: plain.New(), Width: 100}); !strings.Contains(v, "Provider of the new key") {
		t.Fatalf("the form is not shown:\n%s", v)
	}
	for i := 0; p.Open() && i < 20; i++ {
		steptest.Press(t, p, s, "enter")
	}
	if !p.Ready() || p.res.Provider != enc.Secretbox {
		t.Fatalf("enter through the defaults did not plan secretbox: %+v %v\n%s", p.res, p.Err(), p.View(step.Frame{R: plain.New()}))
	}
	key := theKey(t, p)
	steptest.NoSecret(t, p, s, key)
	steptest.Press(t, p, s, "r")
	v := p.View(step.Frame{R: plain.New()})
	if !strings.Contains(v, "Show the new key on screen?") || strings.Contains(v, key) || !p.CapturesKeys() {
		t.Fatalf("r does not ask first:\n%s", v)
	}
	steptest.Press(t, p, s, "n")
	steptest.NoSecret(t, p, s, key)
	steptest.Press(t, p, s, "r", "y")
	if v := p.View(step.Frame{R: plain.New()}); !strings.Contains(v, key) {
		t.Fatalf("r, y does not show the key:\n%s", v)
	}
	steptest.Press(t, p, s, "r")
	steptest.NoSecret(t, p, s, key)
	// e asks again; a new provider gets its own key, the old one is kept for it.
	steptest.Press(t, p, s, "e")
	if !p.Open() {
		t.Fatal("e did not open the form again")
	}
	steptest.Press(t, p, s, "down", "down")
	for i := 0; p.Open() && i < 20; i++ {
		steptest.Press(t, p, s, "enter")
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
		{"key name", func() map[string]string { a := maps.Clone(prefilled); a[KeyKeyName] = "a:b"; return a }(), "must not contain ':'"},
		{"resource", func() map[string]string { a := maps.Clone(prefilled); a[KeyCustom] = "Pandas"; return a }(), "lower case"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := steptest.Session(t, steptest.Root(t, "unhardened"), c.answers)
			p := newStep()
			errs := steptest.Drive(t, p, s, p.Init(s))
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
	root := steptest.Root(t, "unhardened")
	if err := os.Remove(filepath.Join(root, apiserverRel)); err != nil {
		t.Fatal(err)
	}
	s := steptest.Session(t, root, nil)
	p := newStep()
	errs := steptest.Drive(t, p, s, p.Init(s))
	if len(errs) != 1 || !strings.Contains(errs[0].Fix, "control-plane node") || p.Ready() || p.Form(s) != nil {
		t.Fatalf("errors = %+v", errs)
	}
}

// TestGolden pins the planned views: a new config, a rotation and a retirement, in both
// backends.
func TestGolden(t *testing.T) {
	// The retirement's scan: a fresh member holding one Secret under key-new, so its
	// revision (2) is the same every run.
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	if _, err := srv.Client(t).Put(context.Background(), "/registry/secrets/default/s0", "k8s:enc:secretbox:v1:key-new:\x00sealed"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"new", "rotate", "retire"} {
		t.Run(c, func(t *testing.T) {
			pair := map[string]string{"new": "unhardened", "rotate": "hardened", "retire": "hardened"}[c]
			root := steptest.Root(t, pair)
			switch c {
			case "rotate":
				writeConfig(t, root, false)
			case "retire":
				writeRotatedConfig(t, root)
			}
			// A relative root keeps the wrapped paths the same whatever the temp folder.
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			t.Chdir(filepath.Dir(root))
			answers := maps.Clone(prefilled)
			answers[KeyRotate] = "true"
			s := steptest.Session(t, filepath.Base(root), answers)
			if c == "retire" {
				answers[KeyRotate], answers[KeyRetireKeys] = "false", "key-old"
				s.ScanEtcd = scanOf(srv)
			}
			p := newStep()
			steptest.Drive(t, p, s, p.Init(s))
			if !p.Ready() {
				t.Fatalf("not ready: %v", p.Err())
			}
			vs := steptest.Views(p, 100, 60)
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
	root := steptest.Root(t, "unhardened")
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
	s := steptest.Session(t, root, maps.Clone(prefilled))
	p := newStep()
	steptest.Drive(t, p, s, p.Init(s))
	if !p.Ready() {
		t.Fatalf("not ready: %v", p.Err())
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

// TestWizardAsksEtcdForTheKeysInUse: the wizard scans etcd once, through the one
// connection check, before it plans a config. Values written with a key that no config on
// the node holds make it refuse, naming the key; a kept config with the key plans fine.
func TestWizardAsksEtcdForTheKeysInUse(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	for i := range 3 {
		k := fmt.Sprintf("/registry/secrets/default/s%d", i)
		if _, err := cli.Put(context.Background(), k, "k8s:enc:secretbox:v1:key-gone:\x00sealed"); err != nil {
			t.Fatal(err)
		}
	}
	conn := etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
	root := steptest.Root(t, "unhardened")
	before := steptest.Tree(t, root)
	s := steptest.Session(t, root, maps.Clone(prefilled))
	scans := 0
	s.ScanEtcd = func(resources []string) (*enc.StatusReport, error) {
		scans++
		return enc.Scan(context.Background(), conn, resources, nil, time.Minute)
	}
	p := newStep()
	errs := steptest.Drive(t, p, s, p.Init(s))
	if len(errs) == 0 || !strings.Contains(errs[0].What, "key-gone") || !strings.Contains(errs[0].What, "3 values") || p.Ready() {
		t.Fatalf("want a refusal naming the key etcd uses; errors %+v, ready %v", errs, p.Ready())
	}
	if len(s.Plan.Changes) != 0 {
		t.Fatalf("the plan holds %d changes after the refusal", len(s.Plan.Changes))
	}
	if scans != 1 {
		t.Fatalf("etcd scanned %d times; want once, when the step starts", scans)
	}
	steptest.SameTree(t, root, before)
}

// TestOffersToRetireUnusedOldKeys: on a config that writes with secretbox key-new and
// still reads aescbc key-old, the form offers to retire key-old once the scan of etcd
// shows no value stored with it, never the key it writes with, none chosen by default;
// while a value still uses key-old, it is not offered.
func TestOffersToRetireUnusedOldKeys(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	answers := maps.Clone(prefilled)
	start := func(t *testing.T) (*Step, *step.Session) {
		root := steptest.Root(t, "hardened")
		writeRotatedConfig(t, root)
		s := steptest.Session(t, root, maps.Clone(answers))
		s.ScanEtcd = scanOf(srv)
		p := newStep()
		if errs := steptest.Drive(t, p, s, p.Init(s)); len(errs) > 0 {
			t.Fatalf("errors: %+v", errs)
		}
		return p, s
	}
	put := func(t *testing.T, key, value string) {
		if _, err := cli.Put(context.Background(), key, value); err != nil {
			t.Fatal(err)
		}
	}
	ask := func(t *testing.T, p *Step, s *step.Session, input string) string {
		t.Helper()
		form := p.Form(s)
		if form == nil {
			t.Fatal("no form: the retire question is not asked")
		}
		var out bytes.Buffer
		if err := form.WithAccessible(true).WithInput(iotest.OneByteReader(strings.NewReader(input))).WithOutput(&out).Run(); err != nil {
			t.Fatal(err)
		}
		if errs := steptest.Drive(t, p, s, func() tea.Msg { return step.FormDone{} }); len(errs) > 0 || !p.Ready() {
			t.Fatalf("errors %+v, ready %v\n%s", errs, p.Ready(), out.String())
		}
		return out.String()
	}

	put(t, "/registry/secrets/default/s0", "k8s:enc:secretbox:v1:key-new:\x00sealed")
	t.Run("retire the unused key", func(t *testing.T) {
		p, s := start(t)
		out := ask(t, p, s, "1\n0\n")
		if !strings.Contains(out, "Old keys to retire") || !strings.Contains(out, "aescbc:key-old") || strings.Contains(out, "secretbox:key-new") {
			t.Fatalf("the question does not offer key-old alone:\n%s", out)
		}
		if p.res.Action != enc.ActionRetired || !slices.Equal(p.res.RetiredKeys, []string{"aescbc:key-old"}) {
			t.Fatalf("result %+v", p.res)
		}
		if got := s.Answers[KeyRetireKeys]; got != "aescbc:key-old" {
			t.Fatalf("recorded answer %q", got)
		}
		c := s.Plan.Find("etc/kubernetes/enc/encryption-config.yaml")
		if c == nil || bytes.Contains(c.New, []byte("key-old")) || !bytes.Contains(c.New, []byte("key-new")) {
			t.Fatalf("the planned config still holds key-old or lost key-new: %+v", c)
		}
		if v := p.View(step.Frame{R: plain.New()}); !strings.Contains(v, "aescbc:key-old") {
			t.Fatalf("the view does not name the retired key:\n%s", v)
		}
	})
	t.Run("in the terminal form", func(t *testing.T) {
		p, s := start(t)
		// The option shows beside a description wrapped on two or three lines.
		for _, width := range []int{60, 100} {
			steptest.Drive(t, p, s, func() tea.Msg { return tea.WindowSizeMsg{Width: width, Height: 30} })
			if v := p.View(step.Frame{R: plain.New(), Width: width}); !p.Open() || !strings.Contains(v, "Old keys to retire") || !strings.Contains(v, "aescbc:key-old") {
				t.Fatalf("the terminal form at %d columns does not offer key-old (open %v):\n%s", width, p.Open(), v)
			}
		}
		steptest.Press(t, p, s, "x", "enter")
		if p.Open() || !p.Ready() || !slices.Equal(p.res.RetiredKeys, []string{"aescbc:key-old"}) {
			t.Fatalf("x, enter did not retire key-old: %+v %v\n%s", p.res, p.Err(), p.View(step.Frame{R: plain.New()}))
		}
	})
	t.Run("keep every key", func(t *testing.T) {
		p, s := start(t)
		ask(t, p, s, "0\n")
		if len(p.res.RetiredKeys) != 0 || p.res.Action != enc.ActionKept {
			t.Fatalf("result %+v", p.res)
		}
		// Recorded empty, so a run from the saved answers is not asked again.
		if got, ok := s.Answers[KeyRetireKeys]; !ok || got != "" {
			t.Fatalf("recorded answer %q (present %v); want an empty one", got, ok)
		}
	})
	t.Run("not while a value uses it", func(t *testing.T) {
		put(t, "/registry/secrets/default/s1", "k8s:enc:aescbc:v1:key-old:\x00sealed")
		p, s := start(t)
		if p.Form(s) != nil {
			t.Fatal("a form although every other answer was given: key-old is offered while a value uses it")
		}
		if !p.Ready() || len(p.res.RetiredKeys) != 0 {
			t.Fatalf("result %+v, err %v", p.res, p.Err())
		}
		if _, ok := s.Answers[KeyRetireKeys]; ok {
			t.Fatal("an answer was recorded for a question not asked")
		}
	})
}

// TestResourcesShowEveryOptionWhenNarrow: at 60 columns the description of the resources
// question wraps, and every resource is still offered.
func TestResourcesShowEveryOptionWhenNarrow(t *testing.T) {
	for _, width := range []int{60, 100} {
		s := steptest.Session(t, steptest.Root(t, "unhardened"), nil)
		p := newStep()
		steptest.Drive(t, p, s, p.Init(s))
		steptest.Drive(t, p, s, func() tea.Msg { return tea.WindowSizeMsg{Width: width, Height: 30} })
		steptest.Press(t, p, s, "enter") // the provider: secretbox
		v := p.View(step.Frame{R: plain.New(), Width: width})
		for _, r := range enc.ResourceChoices() {
			if !strings.Contains(v, r) {
				t.Errorf("at %d columns the resources question does not offer %s:\n%s", width, r, v)
			}
		}
	}
}

// TestProviderChoiceStaysInViewWhenNarrow: the provider's guidance follows the choice and
// grows to three lines for kms at 60 columns; the chosen row stays in view.
func TestProviderChoiceStaysInViewWhenNarrow(t *testing.T) {
	s := steptest.Session(t, steptest.Root(t, "unhardened"), nil)
	p := newStep()
	steptest.Drive(t, p, s, p.Init(s))
	steptest.Drive(t, p, s, func() tea.Msg { return tea.WindowSizeMsg{Width: 60, Height: 30} })
	steptest.Press(t, p, s, "down", "down", "down")
	v := ansi.Strip(p.View(step.Frame{R: plain.New(), Width: 60}))
	if !strings.Contains(v, "Needs the plugin's name and endpoint") || !strings.Contains(v, "> kms v2") {
		t.Fatalf("the kms choice is not in view at 60 columns:\n%s", v)
	}
}
