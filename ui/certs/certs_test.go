package certs

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	dcerts "github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	uienc "github.com/etcd-harden/etcd-harden/ui/encryption"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

var testNow = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

const (
	etcdRel      = "etc/kubernetes/manifests/etcd.yaml"
	apiserverRel = "etc/kubernetes/manifests/kube-apiserver.yaml"
	pkiRel       = "etc/kubernetes/pki/etcd/"
)

func newStep() *Step {
	p := New()
	p.now = func() time.Time { return testNow }
	return p
}

var prefilled = map[string]string{
	KeyMode: string(harden.CertsAuto), KeyKeyType: string(dcerts.ECDSAP256), KeyNodeName: "node1", KeyAdvertiseIP: "127.0.0.1",
}

// keysOf returns the private keys the plan writes.
func keysOf(t *testing.T, pl *plan.Plan) []string {
	t.Helper()
	var keys []string
	for _, c := range pl.Changes {
		if bytes.Contains(c.New, []byte("PRIVATE KEY")) {
			if !c.Secret {
				t.Errorf("%s holds a private key but is not secret", c.Path)
			}
			// The base64 body, without the PEM armour.
			lines := strings.Split(string(c.New), "\n")
			keys = append(keys, lines[1])
		}
	}
	return keys
}

// planned runs the step with every answer given and returns it ready.
func planned(t *testing.T, root string, answers map[string]string) (*Step, *step.Session) {
	t.Helper()
	s := steptest.Session(t, root, answers)
	p := newStep()
	if errs := steptest.Drive(t, p, s, p.Init(s)); len(errs) > 0 {
		t.Fatalf("errors: %+v", errs)
	}
	return p, s
}

func TestPrefilledAutoGeneratesAndPlansManifests(t *testing.T) {
	p, s := planned(t, steptest.Root(t, "unhardened"), maps.Clone(prefilled))
	if p.Form(s) != nil {
		t.Fatal("Form is not nil although every answer was given")
	}
	if !p.Ready() {
		t.Fatalf("not ready:\n%s", p.View(step.Frame{R: plain.New()}))
	}
	for _, f := range []string{"ca.crt", "ca.key", "server.crt", "server.key", "peer.crt", "peer.key", "healthcheck-client.crt", "healthcheck-client.key"} {
		c := s.Plan.Find(pkiRel + f)
		if c == nil {
			t.Fatalf("%s is not planned", f)
		}
		if strings.HasSuffix(f, ".key") && (!c.Secret || c.Mode != 0o600) {
			t.Errorf("%s: secret %v mode %o", f, c.Secret, c.Mode)
		}
	}
	etcd, api := s.Plan.Find(etcdRel), s.Plan.Find(apiserverRel)
	if etcd == nil || !bytes.Contains(etcd.New, []byte("--client-cert-auth=true")) || !bytes.Contains(etcd.New, []byte("https://127.0.0.1:2379")) {
		t.Fatalf("etcd.yaml not edited for TLS: %v", etcd)
	}
	if api == nil || !bytes.Contains(api.New, []byte("--etcd-certfile=")) {
		t.Fatalf("kube-apiserver.yaml not edited: %v", api)
	}
	if dcerts.Failed(p.planned) {
		t.Fatalf("planned checks fail: %+v", p.planned)
	}
	keys := keysOf(t, s.Plan)
	if len(keys) < 4 {
		t.Fatalf("only %d keys planned", len(keys))
	}
	steptest.NoSecret(t, p, s, keys...)
	// Another step's planner rebuilds the plan: the same keys, not new ones.
	if err := s.SetPlanner("encryption", nil); err != nil {
		t.Fatal(err)
	}
	if again := keysOf(t, s.Plan); !reflect.DeepEqual(again, keys) {
		t.Fatal("replanning made new keys")
	}
	if s.Answers[KeyMode] != string(harden.CertsAuto) {
		t.Fatalf("answers not recorded: %v", s.Answers)
	}
}

func TestExistingModeRefusesFailingFiles(t *testing.T) {
	answers := maps.Clone(prefilled)
	answers[KeyMode] = string(harden.CertsExisting)
	p, s := planned(t, steptest.Root(t, "unhardened"), answers)
	if p.Ready() {
		t.Fatal("ready although the files are missing")
	}
	if !s.Plan.Empty() {
		t.Fatalf("the plan holds changes for failing files: %v", s.Plan.SecretFiles())
	}
	v := p.View(step.Frame{R: plain.New()})
	for _, want := range []string{"[FAIL]", "would fail with these answers", "press e"} {
		if !strings.Contains(v, want) {
			t.Errorf("the view lacks %q:\n%s", want, v)
		}
	}
}

// applied lays out a root whose certificates were made and written by the step.
func applied(t *testing.T) string {
	t.Helper()
	root := steptest.Root(t, "unhardened")
	_, s := planned(t, root, maps.Clone(prefilled))
	if _, err := s.Plan.Apply(plan.ApplyOptions{BackupRoot: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCAKeyMissing(t *testing.T) {
	root := applied(t)
	if err := os.Remove(filepath.Join(root, pkiRel, "ca.key")); err != nil {
		t.Fatal(err)
	}
	// Renewing a leaf needs the CA key.
	if err := os.Remove(filepath.Join(root, pkiRel, "peer.crt")); err != nil {
		t.Fatal(err)
	}
	s := steptest.Session(t, root, maps.Clone(prefilled))
	p := newStep()
	errs := steptest.Drive(t, p, s, p.Init(s))
	if len(errs) != 1 || !strings.Contains(errs[0].What, "CA key") || !strings.Contains(errs[0].Fix, "generate") {
		t.Fatalf("errors = %+v", errs)
	}
	if p.Ready() || !s.Plan.Empty() {
		t.Fatal("a failed generation left the step ready or the plan changed")
	}
	answers := maps.Clone(prefilled)
	answers[KeyMode] = string(harden.CertsGenerate)
	p, _ = planned(t, root, answers)
	if !p.Ready() || !p.made.certs.Generated.NewCA {
		t.Fatalf("generate did not make a new CA: %v %+v", p.Err(), p.made.certs.Generated)
	}
}

func TestBadAnswersAreRefused(t *testing.T) {
	for key, value := range map[string]string{KeyMode: "magic", KeyKeyType: "dsa", KeyAdvertiseIP: "node1.example", KeyNodeName: "../../evil", PathKey("server", "cert"): "relative.crt"} {
		t.Run(key, func(t *testing.T) {
			answers := maps.Clone(prefilled)
			answers[key] = value
			s := steptest.Session(t, steptest.Root(t, "unhardened"), answers)
			p := newStep()
			errs := steptest.Drive(t, p, s, p.Init(s))
			if len(errs) != 1 || !strings.Contains(errs[0].What, key) || errs[0].Fix == "" {
				t.Fatalf("errors = %+v", errs)
			}
			if p.Ready() || !s.Plan.Empty() {
				t.Fatal("a refused answer left the step ready or the plan changed")
			}
		})
	}
}

func TestAccessibleForm(t *testing.T) {
	t.Run("rsa", func(t *testing.T) {
		s := steptest.Session(t, steptest.Root(t, "unhardened"), nil)
		p := newStep()
		steptest.Drive(t, p, s, p.Init(s))
		out := runForm(t, p, s, "1\n2\n\n10.0.0.5\n1\n")
		if !p.Ready() {
			t.Fatalf("not ready: %v\n%s", p.Err(), out)
		}
		if p.a.keyType != dcerts.RSA2048 || p.a.nodeName != "node1" || p.a.advertiseIP != "10.0.0.5" {
			t.Fatalf("answers = %+v", p.a)
		}
		if !bytes.Contains(s.Plan.Find(pkiRel+"server.key").New, []byte("RSA PRIVATE KEY")) {
			t.Fatal("the server key is not RSA")
		}
		if strings.Contains(out, "Certificate file") {
			t.Errorf("the path questions were asked after \"no\":\n%s", out)
		}
		for _, want := range []string{"What etcd has now", "server: /etc/kubernetes/pki/etcd/server.crt (missing)", "Node name [node1]", "Advertise IP [127.0.0.1]"} {
			if !strings.Contains(out, want) {
				t.Errorf("the form lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("path", func(t *testing.T) {
		root := applied(t)
		dir := filepath.Join(root, "etc", "etcd", "tls")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"server.crt", "server.key"} {
			data, err := os.ReadFile(filepath.Join(root, pkiRel, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		s := steptest.Session(t, root, nil)
		p := newStep()
		steptest.Drive(t, p, s, p.Init(s))
		// existing; no such file (asked again); the copies.
		out := runForm(t, p, s, "2\n3\n/etc/etcd/tls/nope.crt\n/etc/etcd/tls/server.crt\n/etc/etcd/tls/server.key\n")
		if !strings.Contains(out, "no such file") {
			t.Errorf("a missing file was accepted:\n%s", out)
		}
		if !p.Ready() {
			t.Fatalf("not ready: %v\n%s\n%s", p.Err(), out, p.View(step.Frame{R: plain.New()}))
		}
		if s.Answers[PathKey("server", "cert")] != "/etc/etcd/tls/server.crt" {
			t.Fatalf("answers = %v", s.Answers)
		}
		etcd := s.Plan.Find(etcdRel)
		if etcd == nil || !bytes.Contains(etcd.New, []byte("--cert-file=/etc/etcd/tls/server.crt")) {
			t.Fatalf("etcd.yaml does not use the chosen file: %v", etcd)
		}
		if c := s.Plan.Find(pkiRel + "server.key"); c != nil {
			t.Fatal("mode existing generated a key")
		}
	})
}

// runForm answers the step's accessible form with input and finishes it.
func runForm(t *testing.T, p *Step, s *step.Session, input string) string {
	t.Helper()
	form := p.Form(s)
	if form == nil {
		t.Fatal("no form although nothing was answered")
	}
	var out bytes.Buffer
	// One byte at a time: huh reads each answer with a new bufio.Scanner.
	in := iotest.OneByteReader(strings.NewReader(input))
	if err := form.WithAccessible(true).WithInput(in).WithOutput(&out).Run(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "\x1b") {
		t.Errorf("the accessible form writes escape codes:\n%s", out.String())
	}
	if errs := steptest.Drive(t, p, s, func() tea.Msg { return step.FormDone{} }); len(errs) > 0 {
		t.Fatalf("errors: %+v\n%s", errs, out.String())
	}
	return out.String()
}

func TestTerminalFormAndEdit(t *testing.T) {
	s := steptest.Session(t, steptest.Root(t, "unhardened"), nil)
	p := newStep()
	steptest.Drive(t, p, s, p.Init(s))
	steptest.Drive(t, p, s, func() tea.Msg { return tea.WindowSizeMsg{Width: 100, Height: 30} })
	if !p.CapturesKeys() || p.Ready() {
		t.Fatal("the form is not active")
	}
	for i := 0; p.Open() && i < 20; i++ {
		steptest.Press(t, p, s, "enter")
	}
	if !p.Ready() || p.a.mode != harden.CertsAuto {
		t.Fatalf("enter through the defaults did not plan: %v\n%s", p.Err(), p.View(step.Frame{R: plain.New()}))
	}
	keys := keysOf(t, s.Plan)
	steptest.Press(t, p, s, "e")
	if !p.Open() || p.Ready() {
		t.Fatal("e did not open the form again")
	}
	for i := 0; p.Open() && i < 20; i++ {
		steptest.Press(t, p, s, "enter")
	}
	if !p.Ready() || !reflect.DeepEqual(keysOf(t, s.Plan), keys) {
		t.Fatal("the same answers made new keys")
	}
}

// TestGolden pins the planned view and the refused one, in both backends.
func TestGolden(t *testing.T) {
	for _, mode := range []string{string(harden.CertsAuto), string(harden.CertsExisting)} {
		t.Run(mode, func(t *testing.T) {
			root := steptest.Root(t, "unhardened")
			wd, err := os.Getwd()
			if err != nil {
				t.Fatal(err)
			}
			// A relative root keeps the wrapped paths the same whatever the temp folder.
			t.Chdir(filepath.Dir(root))
			answers := maps.Clone(prefilled)
			answers[KeyMode] = mode
			p, _ := planned(t, filepath.Base(root), answers)
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

// TestAfterEncryption runs the encryption step first: both edit kube-apiserver.yaml, and
// the certificates' planner starts from the encryption step's result.
func TestAfterEncryption(t *testing.T) {
	answers := maps.Clone(prefilled)
	for k, v := range map[string]string{uienc.KeyProvider: "secretbox", uienc.KeyResources: "secrets",
		uienc.KeyCustom: "", uienc.KeyKeyName: "k1", uienc.KeyAutoReload: "false"} {
		answers[k] = v
	}
	s := steptest.Session(t, steptest.Root(t, "unhardened"), answers)
	e := uienc.New()
	for cmd := []tea.Cmd{e.Init(s)}; len(cmd) > 0; {
		c := cmd[0]
		cmd = cmd[1:]
		if c != nil {
			cmd = append(cmd, e.Update(s, c()))
		}
	}
	if !e.Ready() {
		t.Fatal("the encryption step is not ready")
	}
	p := newStep()
	if errs := steptest.Drive(t, p, s, p.Init(s)); len(errs) > 0 || !p.Ready() {
		t.Fatalf("errors: %+v", errs)
	}
	api := s.Plan.Find(apiserverRel).New
	for _, want := range []string{"--encryption-provider-config=", "--etcd-certfile=", "https://127.0.0.1:2379"} {
		if !bytes.Contains(api, []byte(want)) {
			t.Errorf("kube-apiserver.yaml lacks %q", want)
		}
	}
	if s.Plan.Find("etc/kubernetes/enc/encryption-config.yaml") == nil {
		t.Error("the certificates' planning lost the encryption config")
	}
}

func TestPathSuggestionsListPKIFiles(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"etc/kubernetes/pki/etcd/server.crt", "etc/kubernetes/pki/etcd/server.key", "etc/kubernetes/pki/ca.crt", "etc/kubernetes/pki/sa.pub"} {
		path := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &Step{layout: discover.Defaults(root, "", "")}
	if got := strings.Join(p.pathSuggestions(".crt", ".pem"), " "); got != "/etc/kubernetes/pki/ca.crt /etc/kubernetes/pki/etcd/server.crt" {
		t.Errorf("certificate suggestions = %q", got)
	}
	if got := strings.Join(p.pathSuggestions(".key"), " "); got != "/etc/kubernetes/pki/etcd/server.key" {
		t.Errorf("key suggestions = %q", got)
	}
}

// TestPlansTheModesTheChecksAsk: the wizard plans the same file-mode fixes `plan` does
// (CIS 1.1.7: etcd.yaml 0600), after the files the step writes, and REVIEW.md's checks
// after the plan pass.
func TestPlansTheModesTheChecksAsk(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	if err := os.Chmod(filepath.Join(root, etcdRel), 0o644); err != nil {
		t.Fatal(err)
	}
	s := steptest.Session(t, root, maps.Clone(prefilled))
	s.Checks = audit.Run(s.State, audit.Options{})
	p := newStep()
	if errs := steptest.Drive(t, p, s, p.Init(s)); len(errs) > 0 || !p.Ready() {
		t.Fatalf("errors %+v, ready %v", errs, p.Ready())
	}
	var chmod *plan.Change
	for i, c := range s.Plan.Changes {
		if c.Path == etcdRel && c.ModeSet && c.Mode.Perm() == 0o600 {
			chmod = s.Plan.Changes[i]
		}
	}
	if chmod == nil {
		t.Fatalf("no change sets %s to 0600; changes: %+v", etcdRel, s.Plan.Changes)
	}
	r, err := s.HardenResult(testNow)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.After {
		if c.ID == "1.1.7" && c.Status != audit.Pass {
			t.Fatalf("1.1.7 after the plan: %s %s", c.Status, c.Detail)
		}
	}
}
