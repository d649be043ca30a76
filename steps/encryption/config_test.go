package encryption

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/storage/value"
)

var testNow = time.Date(2025, 6, 7, 12, 0, 0, 0, time.UTC)

func corpusDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "corpus", "encryption")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("corpus not available: %v", err)
	}
	return dir
}

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := NewKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func opts(t testing.TB, o Options) Options {
	t.Helper()
	if o.Now.IsZero() {
		o.Now = testNow
	}
	o, err := o.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// transformer loads c through kube-apiserver's loader and returns the transformer for gr.
func transformer(t *testing.T, c *Config, resource string) value.Transformer {
	t.Helper()
	data, err := c.YAML("test")
	if err != nil {
		t.Fatal(err)
	}
	l, err := loadFile(context.Background(), "test config", data, false)
	if err != nil {
		t.Fatalf("loader refused %s: %v\n%s", c.Summary(), err, data)
	}
	t.Cleanup(l.cancel)
	gr := schema.ParseGroupResource(resource)
	tr := l.cfg.Transformers[gr]
	if tr == nil {
		t.Fatalf("no transformer for %v in %v", gr, l.cfg.Transformers)
	}
	return tr
}

func lastIsIdentity(t *testing.T, c *Config) {
	t.Helper()
	for _, e := range c.Entries() {
		for i, p := range e.Providers {
			if p.Type == Identity && i != len(e.Providers)-1 {
				t.Fatalf("identity not last in %v: %s", e.Resources, c.Summary())
			}
		}
	}
}

func TestNewConfigPerProvider(t *testing.T) {
	cases := []struct {
		name   string
		o      Options
		prefix string
	}{
		{"secretbox", Options{Provider: Secretbox}, "k8s:enc:secretbox:v1:key-20250607:"},
		{"aesgcm", Options{Provider: AESGCM, KeyName: "gcm1"}, "k8s:enc:aesgcm:v1:gcm1:"},
		{"aescbc", Options{Provider: AESCBC, Resources: []string{"secrets", "configmaps"}}, "k8s:enc:aescbc:v1:key-20250607:"},
		{"kms v2, socket missing", Options{Provider: KMS, KMS: KMSOptions{Name: "vault", Endpoint: "unix:///nonexistent/kms.sock", Timeout: 2 * time.Second}}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := opts(t, tc.o)
			d, err := decide(nil, o, mustKey(t))
			if err != nil {
				t.Fatal(err)
			}
			if d.Action != ActionNew {
				t.Fatalf("action %s", d.Action)
			}
			e := d.Config.Entries()
			if len(e) != 1 || !slices.Equal(e[0].Resources, o.Resources) || len(e[0].Providers) != 2 ||
				e[0].Providers[0].Type != o.Provider || e[0].Providers[1].Type != Identity {
				t.Fatalf("config %s", d.Config.Summary())
			}
			start := time.Now()
			w, err := d.Config.Validate(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("validation took %s (dialled a socket?)", time.Since(start))
			}
			if len(w) != 0 {
				t.Fatalf("warnings %v", w)
			}
			data, _ := d.Config.YAML("header")
			if !bytes.HasPrefix(data, []byte("# header\napiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n")) {
				t.Fatalf("yaml:\n%s", data)
			}
			if tc.prefix == "" {
				if !strings.Contains(string(data), "apiVersion: v2") || !strings.Contains(string(data), "timeout: 2s") {
					t.Fatalf("kms yaml:\n%s", data)
				}
				return
			}
			tr := transformer(t, d.Config, o.Resources[0])
			ctx := value.DefaultContext("/registry/secrets/default/a")
			out, err := tr.TransformToStorage(context.Background(), []byte("k8s\x00hello"), ctx)
			if err != nil || !bytes.HasPrefix(out, []byte(tc.prefix)) {
				t.Fatalf("stored %q, %v", out, err)
			}
		})
	}
}

func TestOptionErrors(t *testing.T) {
	cases := []struct {
		o    Options
		want string
	}{
		{Options{Provider: "rot13"}, `unknown encryption provider "rot13"`},
		{Options{KeyName: "a:b"}, `key name "a:b" must not contain ':'`},
		{Options{Resources: []string{"Secrets"}}, `resource "Secrets" must be lower case`},
		{Options{Resources: []string{" "}}, "no resource to encrypt"},
		{Options{ConfigPath: "enc.yaml"}, `config path "enc.yaml" must be an absolute`},
		{Options{Provider: KMS}, "kms needs the plugin's name"},
		{Options{Provider: KMS, KMS: KMSOptions{Name: "v", Endpoint: "tcp://1.2.3.4:5"}}, `kms endpoint "tcp://1.2.3.4:5" must be a unix socket`},
	}
	for _, tc := range cases {
		_, err := tc.o.withDefaults()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want %q", tc.o, err, tc.want)
		}
	}
}

// TestCorpus rotates every real config: the result validates, identity is last, and for
// configs without kms the old keys still decrypt values written before the rotation.
func TestCorpus(t *testing.T) {
	dir := corpusDir(t)
	files, _ := os.ReadDir(dir)
	for _, f := range files {
		t.Run(f.Name(), func(t *testing.T) {
			path := filepath.Join(dir, f.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			existing, warnings, err := Judge(context.Background(), path, data, false)
			if strings.Contains(f.Name(), "MANGLED") {
				if err == nil || !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), path+": kube-apiserver would not start with it:") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(start) > 2*time.Second {
				t.Fatalf("validation took %s", time.Since(start))
			}
			if strings.Contains(string(data), "kms:") && !existing.usesKMS() {
				t.Fatal("kms not seen")
			}
			hasV1 := strings.Contains(f.Name(), "kmsv1") || strings.Contains(f.Name(), "legacy") || strings.Contains(f.Name(), "kmsv2-first") || strings.Contains(f.Name(), "secretbox-first")
			if hasV1 != (len(warnings) > 0) {
				t.Fatalf("warnings %v", warnings)
			}
			resource := existing.Entries()[0].Resources[0]
			for _, p := range []Provider{Secretbox, AESCBC} {
				t.Run(string(p), func(t *testing.T) {
					o := opts(t, Options{Provider: p, Rotate: true, Resources: []string{resource}})
					d, err := decide(existing, o, mustKey(t))
					if err != nil {
						t.Fatal(err)
					}
					if d.Action != ActionRotated {
						t.Fatalf("action %s", d.Action)
					}
					first := d.Config.Entries()[existing.Lookup(resource)].Providers[0]
					if first.Type != p || first.Keys[0] != d.KeyName {
						t.Fatalf("first provider %+v, key %s: %s", first, d.KeyName, d.Config.Summary())
					}
					lastIsIdentity(t, d.Config)
					if _, err := d.Config.Validate(context.Background(), false); err != nil {
						t.Fatalf("rotated config refused: %v", err)
					}
					if existing.usesKMS() {
						return
					}
					before := transformer(t, existing, resource)
					after := transformer(t, d.Config, resource)
					ctx := value.DefaultContext("/registry/" + resource + "/ns/name")
					old, err := before.TransformToStorage(context.Background(), []byte("k8s\x00old value"), ctx)
					if err != nil {
						t.Fatal(err)
					}
					got, stale, err := after.TransformFromStorage(context.Background(), old, ctx)
					if err != nil || string(got) != "k8s\x00old value" || !stale {
						t.Fatalf("old value after rotation: %q stale=%v err=%v", got, stale, err)
					}
					fresh, _ := after.TransformToStorage(context.Background(), []byte("k8s\x00new"), ctx)
					if want := "k8s:enc:" + string(p) + ":v1:" + d.KeyName + ":"; !bytes.HasPrefix(fresh, []byte(want)) {
						t.Fatalf("new value %q, want prefix %q", fresh[:30], want)
					}
				})
			}
		})
	}
}

// A config that does not decode cannot say which of its words are secrets, and the YAML
// decoder quotes a mapping used as a key whole: the key in it must not reach the message,
// while the words of the config's own vocabulary still do.
func TestRefusedConfigNeverQuotesItsSecret(t *testing.T) {
	key := "dGhpcyBpcyBhIDE3Ynl0ZSBrZXk="
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n"
	for _, c := range []struct{ name, doc, want string }{
		{"a mapping used as a key", head + "        ? {" + key + ": }\n        : x\n", "yaml: invalid map key: map[interface {}]interface {}{\"…\""},
		{"a key of the wrong length", head + "        secret: " + key + "\n", `secret: Invalid value: "REDACTED": secret is not of the expected length`},
		{"a version no server serves", strings.Replace(head, "/v1", "/v9", 1) + "        secret: " + key + "\n", `no kind "EncryptionConfiguration" is registered for version "apiserver.config.k8s.io/v9"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Judge(context.Background(), "enc.yaml", []byte(c.doc), false)
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("the message holds the key: %v", err)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "enc.yaml: kube-apiserver would not start with it: ") {
				t.Fatalf("message %q lacks %q", err, c.want)
			}
		})
	}
}

// A provider entry that names no provider (a bare "-") is refused by kube-apiserver; the
// config's rewrite must keep it empty rather than turn it into identity, which would make
// a broken config pass and silently store Secrets in plain text.
func TestEmptyProviderStaysRefusedOnceRewritten(t *testing.T) {
	doc := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  -\n"
	ctx := context.Background()
	c, _, err := Judge(ctx, "enc.yaml", []byte(doc), false)
	if err == nil || !strings.Contains(err.Error(), "provider does not contain any of the expected providers") {
		t.Fatalf("want the loader's refusal, got %v", err)
	}
	for name, rewrite := range map[string]func() ([]byte, error){"YAML": func() ([]byte, error) { return c.YAML("") }, "StandInYAML": c.StandInYAML} {
		out, err := rewrite()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "identity") {
			t.Errorf("%s turned the empty provider into identity:\n%s", name, out)
		}
		if _, _, err := Judge(ctx, "enc.yaml", out, false); err == nil {
			t.Errorf("%s made a refused config pass:\n%s", name, out)
		}
	}
}
