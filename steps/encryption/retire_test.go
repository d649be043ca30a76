package encryption

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"k8s.io/apiserver/pkg/storage/value"
)

// rotatedConfig is a config that writes with secretbox key-new and reads aescbc key-old.
func rotatedConfig(t *testing.T) *Config {
	t.Helper()
	first, err := decide(nil, opts(t, Options{Provider: AESCBC, KeyName: "key-old"}), mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := decide(first.Config, opts(t, Options{KeyName: "key-new", Rotate: true}), mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return rotated.Config
}

// TestRetireKeyAfterRewrite: on a real etcd, retiring the old key is refused while
// Secrets are stored with it, naming how many and what to run; once every Secret is
// rewritten under the new key, the plan drops it and still reads every value.
func TestRetireKeyAfterRewrite(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	root := node(t, "hardened")
	cfg := rotatedConfig(t)
	writeConfig(t, filepath.Join(root, configRel), cfg)
	old := transformer(t, oldConfigOf(t, cfg), "secrets")
	put(t, cli, encrypt(t, old, "/registry/secrets/", 0, 5, 64))
	put(t, cli, encrypt(t, transformer(t, cfg, "secrets"), "/registry/secrets/", 5, 2, 64))
	scan := func(resources []string) (*StatusReport, error) {
		return Status(context.Background(), cli, resources, nil, nil)
	}

	before := snapshot(t, root)
	p := plan.New(root)
	_, err := Apply(p, load(t, root), Options{Now: testNow, ScanEtcd: scan, RetireKeys: []string{"key-old"}})
	want := regexp.MustCompile(`^key aescbc:key-old cannot be retired: etcd still holds 5 values stored with it \(secrets 5, at revision \d+\), which kube-apiserver could no longer read; rewrite them under the new key first \(kubectl get secrets --all-namespaces -o json \| kubectl replace -f -; in an etcd-harden lab: etcd-harden lab rewrite\), check with ` + "`etcd-harden encryption status`" + `, then plan again$`)
	if !errors.Is(err, ErrKeyInUse) || !want.MatchString(err.Error()) {
		t.Fatalf("retire a key in use: %v", err)
	}
	if !p.Empty() || fmt.Sprint(snapshot(t, root)) != fmt.Sprint(before) {
		t.Fatal("a refused retirement planned or wrote something")
	}
	retirable := func() []string {
		t.Helper()
		report, err := scan([]string{"secrets"})
		if err != nil {
			t.Fatal(err)
		}
		return RetirableKeys(cfg, report)
	}
	// What the wizard offers to retire: nothing while values use the old key, and
	// nothing without a scan.
	if got := retirable(); len(got) != 0 {
		t.Fatalf("retirable while 5 values use the old key: %v", got)
	}
	if got := RetirableKeys(cfg, nil); got != nil {
		t.Fatalf("retirable without a scan: %v", got)
	}

	// The rewrite: every Secret again through the config, as kube-apiserver would.
	put(t, cli, encrypt(t, transformer(t, cfg, "secrets"), "/registry/secrets/", 0, 5, 64))
	if got := retirable(); !slices.Equal(got, []string{"aescbc:key-old"}) {
		t.Fatalf("retirable after the rewrite: %v; want the old key only (never the key it writes with)", got)
	}
	p = plan.New(root)
	res, err := Apply(p, load(t, root), Options{Now: testNow, ScanEtcd: scan, RetireKeys: []string{"key-old"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionRetired || !slices.Equal(res.RetiredKeys, []string{"aescbc:key-old"}) || len(res.OldKeys) != 0 ||
		!res.Key.IsZero() || res.Provider != Secretbox || res.KeyName != "key-new" {
		t.Fatalf("result %+v", res)
	}
	notes := strings.Join(append(res.Warnings, res.RemainingSteps...), "\n")
	if strings.Contains(notes, "nothing to change") {
		t.Errorf("a retirement says the config is kept as it is:\n%s", notes)
	}
	for _, w := range []string{"key aescbc:key-old is removed from the config: the scan of etcd at revision ", "still hold values stored with aescbc:key-old"} {
		if !strings.Contains(notes, w) {
			t.Errorf("no %q in\n%s", w, notes)
		}
	}
	c := p.Find(configRel)
	if c == nil || !c.Existed || !c.Secret {
		t.Fatalf("config change %+v", c)
	}
	planned, _, err := Judge(context.Background(), "planned", c.New, false)
	if err != nil {
		t.Fatal(err)
	}
	if ids := planned.KeyIDs(""); len(ids) != 1 || !ids["secretbox:key-new"] {
		t.Fatalf("planned keys %v; want secretbox:key-new only", ids)
	}
	lastIsIdentity(t, planned)
	tr := transformer(t, planned, "secrets")
	if n := readAll(t, cli, tr, "/registry/secrets/"); n != 7 {
		t.Fatalf("the planned config read %d values, want 7", n)
	}
	fresh, err := tr.TransformToStorage(context.Background(), []byte("k8s\x00new"), value.DefaultContext("/registry/secrets/a/b"))
	if err != nil || !strings.HasPrefix(string(fresh), "k8s:enc:secretbox:v1:key-new:") {
		t.Fatalf("new writes %q %v", fresh[:min(len(fresh), 40)], err)
	}
}

// oldConfigOf is cfg without its first (writing) key: a transformer that writes with
// the old key, as kube-apiserver did before the rotation.
func oldConfigOf(t *testing.T, cfg *Config) *Config {
	t.Helper()
	c := &Config{spec: *cfg.spec.DeepCopy()}
	c.spec.Resources[0].Providers = c.spec.Resources[0].Providers[1:]
	return c
}

// TestRetireKeyRefusals: each way a retirement is refused, in words, with nothing planned.
func TestRetireKeyRefusals(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	root := node(t, "hardened")
	writeConfig(t, filepath.Join(root, configRel), rotatedConfig(t))
	scan := func(resources []string) (*StatusReport, error) {
		return Status(context.Background(), cli, resources, nil, nil)
	}
	down := func([]string) (*StatusReport, error) {
		return nil, errors.New("etcd at 127.0.0.1:1 refused the connection")
	}
	host := filepath.Join(root, configRel)
	for _, tc := range []struct {
		name   string
		o      Options
		want   string
		inUse  bool // ErrKeyInUse
		exactP bool
	}{
		{"the writing key", Options{ScanEtcd: scan, RetireKeys: []string{"secretbox:key-new"}},
			"key secretbox:key-new cannot be retired: kube-apiserver writes secrets with it; rotate first (a new key first: plan --rotate, or encryption.rotate in the wizard), rewrite every value, then retire it", true, true},
		{"no scan", Options{RetireKeys: []string{"key-old"}},
			"retiring aescbc:key-old needs a scan of etcd that shows no value stored with it, and etcd was not scanned (no scan was asked for); make etcd reachable (--endpoints, --cacert, --cert, --key, or the manifests' own) and plan again", true, true},
		{"etcd down", Options{ScanEtcd: down, RetireKeys: []string{"key-old"}},
			"and etcd was not scanned (the key names in etcd were not checked (etcd at 127.0.0.1:1 refused the connection): every key found in the node's configs, backups and plan folder is kept)", true, false},
		{"no such key", Options{ScanEtcd: scan, RetireKeys: []string{"key-2019"}},
			`key "key-2019" cannot be retired: ` + host + " has no such key; its keys are aescbc:key-old, secretbox:key-new", false, true},
		{"no such key with a provider", Options{ScanEtcd: scan, RetireKeys: []string{"aesgcm:key-old"}},
			`key "aesgcm:key-old" cannot be retired: ` + host + " has no such key", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Now = testNow
			p := plan.New(root)
			_, err := Apply(p, load(t, root), tc.o)
			switch {
			case err == nil:
				t.Fatal("no error")
			case errors.Is(err, ErrKeyInUse) != tc.inUse:
				t.Errorf("errors.Is(err, ErrKeyInUse) = %v, want %v", !tc.inUse, tc.inUse)
			case tc.exactP && err.Error() != tc.want, !strings.Contains(err.Error(), tc.want):
				t.Errorf("err = %v\nwant %s", err, tc.want)
			}
			if !p.Empty() {
				t.Error("a refused retirement planned something")
			}
		})
	}
}

// TestRetireKeyAmbiguousName: a name two providers use must be given as provider:name.
func TestRetireKeyAmbiguousName(t *testing.T) {
	first, err := decide(nil, opts(t, Options{Provider: AESCBC, KeyName: "k"}), mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	both, err := decide(first.Config, opts(t, Options{KeyName: "k", Rotate: true}), mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	_, err = both.Config.resolveKeys([]string{"k"})
	if want := `key name "k" is in several providers of the planned config (aescbc:k, secretbox:k): give the one to retire as provider:name`; err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if ids, err := both.Config.resolveKeys([]string{"aescbc:k", "aescbc:k"}); err != nil || !slices.Equal(ids, []string{"aescbc:k"}) {
		t.Fatalf("resolveKeys(aescbc:k) = %v, %v", ids, err)
	}
}

// TestRetireKeyUnscannableResource: a key that reads a resource with no etcd prefix of its
// own (a wildcard) is never retired on the strength of a scan.
func TestRetireKeyUnscannableResource(t *testing.T) {
	c := rotatedConfig(t)
	c.spec.Resources[0].Resources = []string{"secrets", "*.*"}
	err := c.canRetire("aescbc:key-old", &StatusReport{Skipped: []string{"*.*"}})
	if want := "key aescbc:key-old cannot be retired: it reads *.*, which a scan of etcd cannot cover"; err == nil || !errors.Is(err, ErrKeyInUse) || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("err = %v", err)
	}
}
