package encryption

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
)

var (
	key32 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	key16 = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
)

func parse(t *testing.T, yaml string) *Config {
	t.Helper()
	yaml = strings.NewReplacer("KEY32", key32, "KEY16", key16).Replace(yaml)
	c, _, err := Judge(context.Background(), "/etc/kubernetes/enc/enc.yaml", []byte(yaml), false)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	secretboxFirst = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox: {keys: [{name: key-20250607, secret: KEY32}]}
  - identity: {}
`
	identityFirst = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - identity: {}
  - aescbc: {keys: [{name: key1, secret: KEY16}]}
`
	aescbcFirst = `# hand written
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - aescbc: {keys: [{name: key1, secret: KEY16}]}
  - identity: {}
`
	wildcard = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [events]
  providers: [{identity: {}}]
- resources: ['*.']
  providers:
  - aesgcm: {keys: [{name: g1, secret: KEY32}]}
  - identity: {}
`
	kmsFirst = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - kms: {apiVersion: v2, name: vault, endpoint: unix:///nonexistent/vault.sock}
  - identity: {}
`
	identityOnly = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers: [{identity: {}}]
`
)

func TestDecide(t *testing.T) {
	cases := []struct {
		name      string
		existing  string
		o         Options
		action    Action
		want      string // Summary of the planned config
		note      string // in the notes
		keyName   string
		oldKeys   []string
		errSubstr string
	}{
		{name: "hardened config is kept", existing: secretboxFirst, o: Options{}, action: ActionKept,
			want: "secrets: secretbox(key-20250607) > identity", note: "nothing to change", keyName: "key-20250607"},
		{name: "kept aescbc says it is weak", existing: aescbcFirst, o: Options{}, action: ActionKept,
			want: "secrets: aescbc(key1) > identity", note: "padding-oracle", keyName: "key1"},
		{name: "identity first is rotated without asking", existing: identityFirst, o: Options{}, action: ActionRotated,
			want: "secrets: secretbox(key-20250607) > aescbc(key1) > identity", note: "identity was first", keyName: "key-20250607", oldKeys: []string{"aescbc:key1"}},
		{name: "same provider: key prepended", existing: aescbcFirst, o: Options{Provider: AESCBC, Rotate: true}, action: ActionRotated,
			want: "secrets: aescbc(key-20250607,key1) > identity", keyName: "key-20250607", oldKeys: []string{"aescbc:key1"}},
		{name: "key name taken", existing: secretboxFirst, o: Options{Rotate: true}, action: ActionRotated,
			want: "secrets: secretbox(key-20250607-2,key-20250607) > identity", note: "the new key is named key-20250607-2", keyName: "key-20250607-2"},
		{name: "resource without entry gets one first", existing: secretboxFirst, o: Options{Resources: []string{"secrets", "configmaps"}}, action: ActionRotated,
			want: "configmaps: secretbox(key-20250607) > identity; secrets: secretbox(key-20250607) > identity", note: "no entry covered configmaps"},
		{name: "wildcard entry is the one rotated", existing: wildcard, o: Options{Rotate: true}, action: ActionRotated,
			want: "events: identity; *.: secretbox(key-20250607) > aesgcm(g1) > identity"},
		{name: "kms already first", existing: kmsFirst, o: Options{Provider: KMS, Rotate: true, KMS: KMSOptions{Name: "vault", Endpoint: "unix:///nonexistent/vault.sock"}}, action: ActionKept,
			want: "secrets: kms(v2:vault) > identity", note: "rotates its own keys"},
		{name: "kms to another plugin", existing: kmsFirst, o: Options{Provider: KMS, Rotate: true, KMS: KMSOptions{Name: "vault2", Endpoint: "unix:///nonexistent/v2.sock"}}, action: ActionRotated,
			want: "secrets: kms(v2:vault2) > kms(v2:vault) > identity", keyName: "vault2", oldKeys: []string{"kms:v2:vault"}},
		{name: "kms name taken", existing: identityFirst + "  - kms: {apiVersion: v2, name: vault, endpoint: unix:///x.sock}\n", o: Options{Provider: KMS, KMS: KMSOptions{Name: "vault", Endpoint: "unix:///x.sock"}},
			errSubstr: `/etc/kubernetes/enc/enc.yaml: a kms provider named "vault" is already in the config`},
		{name: "identity only", existing: identityOnly, o: Options{}, action: ActionRotated,
			want: "secrets: secretbox(key-20250607) > identity"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			existing := parse(t, tc.existing)
			before := existing.MaskedYAML("")
			d, err := decide(existing, opts(t, tc.o), mustKey(t))
			if existing.MaskedYAML("") != before {
				t.Fatal("decide changed the existing config")
			}
			if tc.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSubstr) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := d.Config.Summary()
			if d.Action != tc.action || !strings.Contains(got, "["+tc.want+"]") {
				t.Fatalf("action %s, config %s", d.Action, got)
			}
			if tc.note != "" && !strings.Contains(strings.Join(d.Notes, "\n"), tc.note) {
				t.Fatalf("notes %q", d.Notes)
			}
			if tc.keyName != "" && d.KeyName != tc.keyName {
				t.Fatalf("key name %s", d.KeyName)
			}
			if tc.oldKeys != nil && !slices.Equal(d.OldKeys, tc.oldKeys) {
				t.Fatalf("old keys %v", d.OldKeys)
			}
			lastIsIdentity(t, d.Config)
			if _, err := d.Config.Validate(context.Background(), false); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestValidateRefusesWhatTheLoaderRefuses(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"stray field", strings.Replace(secretboxFirst, "- resources: [secrets]", "- resources: [secrets]\n  name: oops", 1), `unknown field "resources[0].name"`},
		{"short secretbox key", strings.Replace(secretboxFirst, "KEY32", "KEY16", 1), "expected length"},
		{"not base64", strings.Replace(secretboxFirst, "KEY32", "not*base64", 1), "base64"},
		{"kms v2 bad endpoint", strings.Replace(kmsFirst, "unix:///nonexistent/vault.sock", "tcp://10.0.0.1:1", 1), "unsupported scheme"},
		{"masked rule", wildcard + "- resources: [secrets]\n  providers: [{identity: {}}]\n", `resource "secrets" is masked by earlier rule "*."`},
		{"masked rule with kms", wildcard + "- resources: [secrets]\n  providers: [{kms: {apiVersion: v2, name: k, endpoint: unix:///nonexistent.sock}}]\n", `resource "secrets" is masked by earlier rule "*."`},
		{"empty", "\n", "the file is empty"},
		{"wrong kind", "apiVersion: v1\nkind: Pod\n", "it is a Pod, not an EncryptionConfiguration"},
		// The decoder would quote the whole file, keys included (found by FuzzEncryptionConfig).
		{"no kind", strings.Replace(secretboxFirst, "kind: EncryptionConfiguration\n", "", 1), "it has no kind or apiVersion"},
		// The loader starts with two keys of one name (and reads with the first only): Judge refuses it (issue 11).
		{"two keys named alike", strings.Replace(secretboxFirst, "KEY32", "KEY32}, {name: key-20250607, secret: KEY32", 1), `the secretbox provider has two keys named`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.NewReplacer("KEY32", key32, "KEY16", key16).Replace(tc.yaml)
			_, _, err := Judge(context.Background(), "/node/enc.yaml", []byte(data), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "/node/enc.yaml: kube-apiserver would not start with it:") {
				t.Fatalf("err = %v", err)
			}
			if strings.Contains(err.Error(), key32) || strings.Contains(err.Error(), key16) {
				t.Fatalf("key in %v", err)
			}
			if strings.Contains(err.Error(), "etcd-harden-encryption-") {
				t.Fatalf("temporary path in %v", err)
			}
		})
	}
}

func TestConfigResources(t *testing.T) {
	c := parse(t, wildcard)
	if got := c.Resources(); !slices.Equal(got, []string{"events", "*."}) {
		t.Fatalf("resources %v", got)
	}
	if got := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(got, key32) || !strings.Contains(got, "aesgcm(g1)") {
		t.Fatalf("printed %s", got)
	}
}
