package encryption

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

const configRel = "etc/kubernetes/enc/encryption-config.yaml"

// node lays out a kubeadm-like root from testdata/manifests/<kind> and returns it.
func node(t *testing.T, kind string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{discover.EtcdFile, discover.APIServerFile} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", kind, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, f), string(data))
	}
	return root
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func load(t *testing.T, root string) *discover.State {
	t.Helper()
	s, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// snapshot returns every file under root with its content, to prove nothing was written.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		}
		return nil
	})
	return out
}

func applyPlan(t *testing.T, p *plan.Plan) {
	t.Helper()
	if _, err := p.Apply(plan.ApplyOptions{BackupRoot: filepath.Join(t.TempDir(), "backups")}); err != nil {
		t.Fatal(err)
	}
}

func TestApplyNewThenKept(t *testing.T) {
	root := node(t, "unhardened")
	before := snapshot(t, root)
	p := plan.New(root)
	res, err := Apply(p, load(t, root), Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(snapshot(t, root)) != fmt.Sprint(before) {
		t.Fatal("Apply wrote to disk")
	}
	if res.Action != ActionNew || res.Provider != Secretbox || res.KeyName != "key-20250607" || res.Key.IsZero() ||
		res.ConfigPath != DefaultConfigPath || res.ConfigFile != filepath.Join(root, configRel) {
		t.Fatalf("result %+v", res)
	}
	c := p.Find(configRel)
	if c == nil || !c.Secret || c.Mode != 0o600 || c.DirMode != 0o700 || c.Existed {
		t.Fatalf("config change %+v", c)
	}
	if !bytes.Contains(c.New, []byte(res.Key.Reveal())) || !bytes.HasPrefix(c.New, []byte("# Written by etcd-harden on 2025-06-07")) {
		t.Fatalf("config file:\n%s", c.New)
	}
	m := p.Find("etc/kubernetes/manifests/kube-apiserver.yaml")
	if m == nil {
		t.Fatal("kube-apiserver.yaml not edited")
	}
	for _, want := range []string{"- --encryption-provider-config=" + DefaultConfigPath, "name: etcd-encryption", "path: /etc/kubernetes/enc", "type: DirectoryOrCreate", "readOnly: true"} {
		if !bytes.Contains(m.New, []byte(want)) {
			t.Fatalf("manifest lacks %q:\n%s", want, m.New)
		}
	}
	if p.Find("etc/kubernetes/manifests/etcd.yaml") != nil {
		t.Fatal("etcd.yaml touched")
	}
	if len(res.RemainingSteps) < 4 || !strings.Contains(strings.Join(res.RemainingSteps, "\n"), "kubectl get secrets --all-namespaces -o json | kubectl replace -f -") {
		t.Fatalf("steps %q", res.RemainingSteps)
	}
	if strings.Contains(string(p.Patch()), res.Key.Reveal()) {
		t.Fatal("key in the patch")
	}

	// Once applied, planning the hardened node again changes nothing.
	applyPlan(t, p)
	info, err := os.Stat(filepath.Join(root, configRel))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("config file %v %v", info, err)
	}
	p2 := plan.New(root)
	res2, err := Apply(p2, load(t, root), Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Action != ActionKept || !p2.Empty() || !res2.Key.IsZero() || res2.KeyName != "key-20250607" {
		t.Fatalf("second run %+v, plan %v", res2, p2.Changes)
	}
}

func TestApplyRotateHardened(t *testing.T) {
	root := node(t, "hardened")
	write(t, filepath.Join(root, configRel), strings.ReplaceAll(identityFirst, "KEY16", key16))
	p := plan.New(root)
	res, err := Apply(p, load(t, root), Options{Provider: AESGCM, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionRotated || res.Provider != AESGCM || len(res.OldKeys) != 1 || res.OldKeys[0] != "aescbc:key1" {
		t.Fatalf("result %+v", res)
	}
	c := p.Find(configRel)
	if c == nil || !c.Secret || !c.Existed {
		t.Fatalf("config change %+v", c)
	}
	if p.Find("etc/kubernetes/manifests/kube-apiserver.yaml") != nil {
		t.Fatal("manifest changed although flag and mount are there")
	}
	all := strings.Join(append(res.Warnings, res.RemainingSteps...), "\n")
	for _, want := range []string{"identity was first", "remove the old keys (aescbc:key1)", "200,000 writes", "every control-plane node"} {
		if !strings.Contains(all, want) {
			t.Fatalf("no %q in\n%s", want, all)
		}
	}
	if !strings.Contains(res.ConfigYAML, "name: key1") || strings.Contains(res.ConfigYAML, key16) {
		t.Fatalf("display yaml:\n%s", res.ConfigYAML)
	}
}

func TestApplyRemovesFlagFromEtcd(t *testing.T) {
	root := node(t, "unhardened")
	etcdPath := filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml")
	data, _ := os.ReadFile(etcdPath)
	bad := strings.Replace(string(data), "    - etcd\n", "    - etcd\n    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n", 1)
	if bad == string(data) {
		t.Fatal("test manifest has no '- etcd' line")
	}
	write(t, etcdPath, bad)
	p := plan.New(root)
	res, err := Apply(p, load(t, root), Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Find("etc/kubernetes/manifests/etcd.yaml")
	if c == nil || string(c.New) != string(data) {
		t.Fatalf("etcd.yaml change %v", c)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "etcd does not know the flag and will not start with it") {
		t.Fatalf("warnings %q", res.Warnings)
	}
}

func TestApplyErrorsLeaveThePlanEmpty(t *testing.T) {
	mangled := filepath.Join(corpusDir(t), "Rekt-Dev-CKA_prep__MANGLED-invalid-indentation.yaml")
	mangledData, err := os.ReadFile(mangled)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		setup func(root string)
		o     Options
		want  string
		is    error
	}{
		{"mangled config", func(root string) { write(t, filepath.Join(root, configRel), string(mangledData)) }, Options{},
			"encryption-config.yaml: kube-apiserver would not start with it: yaml: line 9", ErrInvalidConfig},
		{"short key in config", func(root string) {
			write(t, filepath.Join(root, configRel), strings.ReplaceAll(secretboxFirst, "KEY32", key16))
		}, Options{Rotate: true}, "secret is not of the expected length, got 16", ErrInvalidConfig},
		{"no kube-apiserver", func(root string) {
			os.Remove(filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml"))
		}, Options{}, "has no kube-apiserver.yaml", ErrNoAPIServer},
		{"resource kube-apiserver cannot encrypt", func(string) {}, Options{Resources: []string{"secrets", "serviceipallocations"}},
			"refused by kube-apiserver's own loader, so nothing was planned: error while parsing file: resources[0].resources[1]: Invalid value: \"serviceipallocations\": resources which do not have REST API/s cannot be encrypted", ErrInvalidConfig},
		{"bad option", func(string) {}, Options{Provider: KMS, KMS: KMSOptions{Name: "x", Endpoint: "/run/x.sock"}}, "must be a unix socket", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := node(t, "hardened")
			tc.setup(root)
			before := snapshot(t, root)
			s, err := discover.Load(discover.Defaults(root, "", ""))
			if err != nil {
				t.Fatal(err)
			}
			p := plan.New(root)
			_, err = Apply(p, s, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("err = %v", err)
			}
			if !p.Empty() || fmt.Sprint(snapshot(t, root)) != fmt.Sprint(before) {
				t.Fatal("plan or disk changed")
			}
		})
	}
}

func TestApplyMissingConfigFile(t *testing.T) {
	root := node(t, "hardened") // the flag names a file that is not there
	p := plan.New(root)
	res, err := Apply(p, load(t, root), Options{Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if res.Action != ActionNew || p.Find(configRel) == nil || p.Find("etc/kubernetes/manifests/kube-apiserver.yaml") != nil {
		t.Fatalf("result %+v changes %v", res, p.Changes)
	}
	if !strings.Contains(strings.Join(res.Warnings, "\n"), "which does not exist") {
		t.Fatalf("warnings %q", res.Warnings)
	}
}

func TestResultNeverShowsTheKey(t *testing.T) {
	root := node(t, "unhardened")
	p := plan.New(root)
	res, err := Apply(p, load(t, root), Options{Now: testNow, Provider: AESCBC})
	if err != nil {
		t.Fatal(err)
	}
	secret := res.Key.Reveal()
	if secret == "" {
		t.Fatal("no key")
	}
	js, _ := json.Marshal(res)
	outs := []string{fmt.Sprintf("%v", res), fmt.Sprintf("%+v", res), fmt.Sprintf("%#v", res), fmt.Sprintf("%+v", *res), fmt.Sprintf("%#v", *res), string(js), res.ConfigYAML,
		strings.Join(res.Warnings, ""), strings.Join(res.RemainingSteps, ""), string(p.Patch())}
	for _, o := range outs {
		if strings.Contains(o, secret) {
			t.Fatalf("key in %s", o)
		}
	}
	if !strings.Contains(res.ConfigYAML, "secret: "+Masked) || !strings.Contains(string(js), `"key":"`+Masked+`"`) {
		t.Fatalf("yaml %s json %s", res.ConfigYAML, js)
	}
}

// TestApplyCorpusManifests plans step 1 on every real kube-apiserver manifest: each one
// is planned or refused with a message naming the file.
func TestApplyCorpusManifests(t *testing.T) {
	dir := filepath.Join(corpusDir(t), "..", "apiserver")
	files, _ := os.ReadDir(dir)
	etcd, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", "unhardened", "etcd.yaml"))
	for _, f := range files {
		t.Run(f.Name(), func(t *testing.T) {
			root := t.TempDir()
			data, _ := os.ReadFile(filepath.Join(dir, f.Name()))
			write(t, filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml"), string(data))
			write(t, filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml"), string(etcd))
			s, err := discover.Load(discover.Defaults(root, "", ""))
			if err != nil {
				t.Skipf("discover refuses it: %v", err)
			}
			if cur, _ := Locate(s); cur != nil && cur.Missing == false && cur.Config == nil {
				t.Fatal("located config without content")
			}
			p := plan.New(root)
			res, err := Apply(p, s, Options{Now: testNow})
			if err != nil {
				if !strings.Contains(err.Error(), "kube-apiserver.yaml") {
					t.Fatalf("error does not name the file: %v", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			m := p.Find("etc/kubernetes/manifests/kube-apiserver.yaml")
			if m == nil || bytes.Count(m.New, []byte("--encryption-provider-config=")) != 1 {
				t.Fatalf("manifest change %v", m)
			}
			t.Logf("%s: %s, warnings %q", res.Action, res.ConfigFile, res.Warnings)
		})
	}
}

// TestApplyCorpusPair plans on a real manifest whose config is mounted as a single file,
// with the config published next to it.
func TestApplyCorpusPair(t *testing.T) {
	dir := corpusDir(t)
	cfg, err := os.ReadFile(filepath.Join(dir, "NagsaiPeddeti-Kubernetes__encryption-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile(filepath.Join(dir, "..", "apiserver", "NagsaiPeddeti-Kubernetes__kubeadm-1.30-encryption-audit-no-eol.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	etcd, _ := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", "unhardened", "etcd.yaml"))
	for _, rotate := range []bool{false, true} {
		t.Run(fmt.Sprint("rotate=", rotate), func(t *testing.T) {
			root := t.TempDir()
			write(t, filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml"), string(manifest))
			write(t, filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml"), string(etcd))
			write(t, filepath.Join(root, "etc/kubernetes/encryption-config.yaml"), string(cfg))
			p := plan.New(root)
			res, err := Apply(p, load(t, root), Options{Rotate: rotate, Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			warnings := strings.Join(res.Warnings, "\n")
			if !rotate {
				if res.Action != ActionKept || !p.Empty() || res.Provider != AESCBC || !strings.Contains(warnings, "padding-oracle") {
					t.Fatalf("result %+v", res)
				}
				return
			}
			c := p.Find("etc/kubernetes/encryption-config.yaml")
			if res.Action != ActionRotated || c == nil || len(p.Changes) != 1 || !strings.Contains(warnings, "as a single file") {
				t.Fatalf("result %+v changes %d", res, len(p.Changes))
			}
			if !strings.Contains(res.ConfigYAML, "- serviceaccounts/token") {
				t.Fatalf("resources lost:\n%s", res.ConfigYAML)
			}
		})
	}
}
