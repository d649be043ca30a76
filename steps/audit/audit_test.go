package audit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

var (
	manifests = filepath.Join("..", "..", "testdata", "manifests")
	corpus    = filepath.Join("..", "..", "..", "shared", "corpus")
)

func testdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifests, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// write creates root/rel with content and mode, making folders as needed.
func write(t *testing.T, root, rel, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return p
}

// tree lays out a root with the two manifests (apiYAML "" leaves kube-apiserver out) and
// returns the root.
func tree(t *testing.T, etcdYAML, apiYAML string) string {
	t.Helper()
	root := t.TempDir()
	write(t, root, "etc/kubernetes/manifests/etcd.yaml", etcdYAML, 0o600)
	if apiYAML != "" {
		write(t, root, "etc/kubernetes/manifests/kube-apiserver.yaml", apiYAML, 0o600)
	}
	return root
}

func load(t *testing.T, root string) *discover.State {
	t.Helper()
	s, err := discover.Load(discover.Layout{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func byID(checks []Check) map[string]Check {
	m := map[string]Check{}
	for _, c := range checks {
		m[c.ID] = c
	}
	return m
}

// caPEM makes a self-signed CA certificate at test time.
func caPEM(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func secretboxConfig(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources:
  - secrets
  providers:
  - secretbox:
      keys:
      - name: key-1
        secret: ` + base64.StdEncoding.EncodeToString(key) + `
  - identity: {}
`
}

// hardenedRoot is the hardened pair with everything the checks read in place.
func hardenedRoot(t *testing.T) string {
	t.Helper()
	root := tree(t, testdata(t, "hardened/etcd.yaml"), testdata(t, "hardened/kube-apiserver.yaml"))
	write(t, root, "etc/kubernetes/enc/encryption-config.yaml", secretboxConfig(t), 0o600)
	write(t, root, "etc/kubernetes/pki/etcd/ca.crt", caPEM(t, "etcd-ca"), 0o644)
	write(t, root, "etc/kubernetes/pki/ca.crt", caPEM(t, "kubernetes"), 0o644)
	if err := os.MkdirAll(filepath.Join(root, "var/lib/etcd"), 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestUnhardened(t *testing.T) {
	root := tree(t, testdata(t, "unhardened/etcd.yaml"), testdata(t, "unhardened/kube-apiserver.yaml"))
	checks := Run(load(t, root), Options{})
	if len(checks) != len(IDs()) {
		t.Fatalf("%d checks, want %d", len(checks), len(IDs()))
	}
	if !Failed(checks) {
		t.Fatal("Failed = false")
	}
	want := map[string]Status{
		"2.1": Fail, "2.2": Fail, "2.3": Pass, "2.4": Fail, "2.5": Fail, "2.6": Pass, "2.7": Fail,
		"1.2.23": Fail, "1.2.26": Fail, "1.2.27": Fail, "1.2.28": Fail,
		"1.1.7": Pass, "1.1.11": Warn, // the data dir does not exist in the temp root
	}
	etcdPath := filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml")
	for _, c := range checks {
		if c.Status != want[c.ID] {
			t.Errorf("%s = %s (%s), want %s", c.ID, c.Status, c.Detail, want[c.ID])
		}
		if c.Status != Pass && c.ID != "1.1.11" && c.Fix == "" {
			t.Errorf("%s: no fix", c.ID)
		}
		if c.Title == "" || c.Target == "" {
			t.Errorf("%s: empty title or target: %+v", c.ID, c)
		}
	}
	got := byID(checks)
	for _, s := range []string{"--cert-file is not set", "--key-file is not set", "--listen-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://127.0.0.1:2379"} {
		if !strings.Contains(got["2.1"].Detail, s) {
			t.Errorf("2.1 detail %q lacks %q", got["2.1"].Detail, s)
		}
	}
	if f := got["2.1"].Fix; !strings.Contains(f, etcdPath) || !strings.Contains(f, "--cert-file=/etc/kubernetes/pki/etcd/server.crt") {
		t.Errorf("2.1 fix = %q", f)
	}
	if got["2.1"].Target != etcdPath {
		t.Errorf("2.1 target = %q", got["2.1"].Target)
	}
	if !strings.Contains(got["2.4"].Detail, "--listen-peer-urls=http://127.0.0.1:2380") {
		t.Errorf("2.4 detail = %q", got["2.4"].Detail)
	}
	if !strings.Contains(got["1.2.23"].Detail, "--etcd-servers=http://127.0.0.1:2379") {
		t.Errorf("1.2.23 detail = %q", got["1.2.23"].Detail)
	}
	if !strings.Contains(got["1.2.27"].Fix, "--encryption-provider-config") {
		t.Errorf("1.2.27 fix = %q", got["1.2.27"].Fix)
	}
}

func TestHardened(t *testing.T) {
	checks := Run(load(t, hardenedRoot(t)), Options{})
	if Failed(checks) {
		t.Error("Failed = true")
	}
	for _, c := range checks {
		if c.Status != Pass || c.Fix != "" {
			t.Errorf("%s = %s: %s (fix %q)", c.ID, c.Status, c.Detail, c.Fix)
		}
	}
	if n := Count(checks); n[Pass] != len(IDs()) {
		t.Errorf("Count = %v", n)
	}
}

func TestNoAPIServer(t *testing.T) {
	root := tree(t, testdata(t, "hardened/etcd.yaml"), "")
	got := byID(Run(load(t, root), Options{}))
	for _, id := range []string{"1.2.23", "1.2.26", "1.2.27", "1.2.28", "2.7"} {
		c := got[id]
		if c.Status != Warn || !strings.Contains(c.Detail, "kube-apiserver.yaml not found in "+filepath.Join(root, "etc/kubernetes/manifests")) {
			t.Errorf("%s = %s %q", id, c.Status, c.Detail)
		}
	}
	if got["2.1"].Status != Pass {
		t.Errorf("2.1 = %+v", got["2.1"])
	}
}

func TestOptionsIDs(t *testing.T) {
	checks := Run(load(t, hardenedRoot(t)), Options{IDs: []string{"2.7", "1.1.7"}})
	if len(checks) != 2 || checks[0].ID != "1.1.7" || checks[1].ID != "2.7" {
		t.Errorf("checks = %+v", checks)
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(Check{ID: "2.1", Title: "t", Status: Fail, Detail: "d", Fix: "f", Target: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"id":"2.1","title":"t","status":"fail","detail":"d","fix":"f","target":"/x"}`; string(b) != want {
		t.Errorf("json = %s", b)
	}
}

// etcdFlags returns the hardened etcd manifest with flag edits: old → new replacements.
func etcdWith(t *testing.T, repl ...string) string {
	t.Helper()
	return strings.NewReplacer(repl...).Replace(testdata(t, "hardened/etcd.yaml"))
}

func TestEtcdFlags(t *testing.T) {
	tests := []struct {
		name   string
		repl   []string
		id     string
		status Status
		detail string
	}{
		{"auto-tls true", []string{"    - --name=node1\n", "    - --name=node1\n    - --auto-tls=true\n"}, "2.3", Fail, "--auto-tls=true"},
		{"auto-tls bare", []string{"    - --name=node1\n", "    - --name=node1\n    - --auto-tls\n"}, "2.3", Fail, "--auto-tls=true"},
		{"auto-tls false", []string{"    - --name=node1\n", "    - --name=node1\n    - --auto-tls=false\n"}, "2.3", Pass, "--auto-tls=false"},
		{"peer-auto-tls true", []string{"    - --name=node1\n", "    - --name=node1\n    - --peer-auto-tls=true\n"}, "2.6", Fail, "self-signed"},
		{"client-cert-auth false", []string{"--client-cert-auth=true", "--client-cert-auth=false"}, "2.2", Fail, "--client-cert-auth=false"},
		{"client-cert-auth last wins", []string{"    - --name=node1\n", "    - --name=node1\n    - --client-cert-auth=false\n"}, "2.2", Fail, "--client-cert-auth=false"},
		{"client-cert-auth bare", []string{"--client-cert-auth=true", "--client-cert-auth"}, "2.2", Pass, ""},
		{"peer-client-cert-auth absent", []string{"    - --peer-client-cert-auth=true\n", ""}, "2.5", Fail, "is not set"},
		{"key-file missing", []string{"    - --key-file=/etc/kubernetes/pki/etcd/server.key\n", ""}, "2.1", Fail, "--key-file is not set"},
		{"cert from env", []string{"    - --cert-file=/etc/kubernetes/pki/etcd/server.crt\n", "", "    name: etcd\n",
			"    name: etcd\n    env:\n    - name: ETCD_CERT_FILE\n      value: /etc/kubernetes/pki/etcd/server.crt\n"}, "2.1", Pass, "ETCD_CERT_FILE="},
		{"https plus http client url", []string{"--listen-client-urls=https://127.0.0.1:2379", "--listen-client-urls=https://127.0.0.1:2379,http://127.0.0.1:2382"}, "2.1", Fail,
			"plain http (no TLS): --listen-client-urls=http://127.0.0.1:2382"},
		{"peer key missing", []string{"    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key\n", ""}, "2.4", Fail, "--peer-key-file is not set"},
		{"no trusted ca", []string{"    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n", ""}, "2.7", Fail, "--trusted-ca-file is not set"},
		{"same CA path", []string{"--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt", "--trusted-ca-file=/etc/kubernetes/pki/ca.crt",
			"    - mountPath: /etc/kubernetes/pki/etcd\n", "    - mountPath: /etc/kubernetes/pki\n", "      path: /etc/kubernetes/pki/etcd\n", "      path: /etc/kubernetes/pki\n"},
			"2.7", Fail, "is the Kubernetes CA"},
		{"CA not on a volume", []string{"--trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt", "--trusted-ca-file=/etc/kubernetes/pki/ca.crt"}, "2.7", Fail, "is the Kubernetes CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hardenedRoot(t)
			write(t, root, "etc/kubernetes/manifests/etcd.yaml", etcdWith(t, tt.repl...), 0o600)
			c := Run(load(t, root), Options{IDs: []string{tt.id}})[0]
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("%s = %s %q; want %s containing %q", c.ID, c.Status, c.Detail, tt.status, tt.detail)
			}
			if c.Status == Fail && !strings.Contains(c.Fix, "etcd.yaml") {
				t.Errorf("fix %q does not name etcd.yaml", c.Fix)
			}
		})
	}
}

func TestUniqueCAContents(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(t *testing.T, root string)
		status Status
		detail string
	}{
		{"same certificate, two files", func(t *testing.T, root string) {
			ca := caPEM(t, "kubernetes")
			write(t, root, "etc/kubernetes/pki/ca.crt", ca, 0o644)
			write(t, root, "etc/kubernetes/pki/etcd/ca.crt", "# copied\n"+ca, 0o644)
		}, Fail, "hold the same CA certificate"},
		{"etcd bundle includes the kubernetes CA", func(t *testing.T, root string) {
			ca := caPEM(t, "kubernetes")
			write(t, root, "etc/kubernetes/pki/ca.crt", ca, 0o644)
			write(t, root, "etc/kubernetes/pki/etcd/ca.crt", caPEM(t, "etcd")+ca, 0o644)
		}, Fail, "hold the same CA certificate"},
		{"etcd CA missing", func(t *testing.T, root string) {
			os.Remove(filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt"))
		}, Warn, "could not be compared"},
		{"different CAs", func(*testing.T, string) {}, Pass, "differs from the Kubernetes CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hardenedRoot(t)
			tt.setup(t, root)
			c := Run(load(t, root), Options{IDs: []string{"2.7"}})[0]
			if c.Status != tt.status || !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("2.7 = %s %q; want %s containing %q", c.Status, c.Detail, tt.status, tt.detail)
			}
		})
	}
}

func TestFileModes(t *testing.T) {
	tests := []struct {
		name     string
		manifest os.FileMode
		dataDir  os.FileMode // 0: missing; 1: a file instead of a folder
		want7    Status
		want11   Status
		detail11 string
	}{
		{"strict", 0o600, 0o700, Pass, Pass, "mode 0700"},
		{"stricter", 0o400, 0o500, Pass, Pass, "mode 0500"},
		{"loose", 0o644, 0o755, Fail, Fail, "mode 0755"},
		{"group write", 0o660, 0o770, Fail, Fail, "mode 0770"},
		{"missing data dir", 0o600, 0, Pass, Warn, "does not exist yet"},
		{"data dir is a file", 0o600, 1, Pass, Fail, "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			p := write(t, root, "etc/kubernetes/manifests/etcd.yaml", testdata(t, "hardened/etcd.yaml"), tt.manifest)
			data := filepath.Join(root, "var/lib/etcd")
			switch tt.dataDir {
			case 0:
			case 1:
				write(t, root, "var/lib/etcd", "", 0o600)
			default:
				if err := os.MkdirAll(data, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(data, tt.dataDir); err != nil {
					t.Fatal(err)
				}
			}
			got := byID(Run(load(t, root), Options{IDs: []string{"1.1.7", "1.1.11"}}))
			if c := got["1.1.7"]; c.Status != tt.want7 || c.Target != p || (c.Status == Fail && c.Fix != "chmod 600 "+p) {
				t.Errorf("1.1.7 = %+v", c)
			}
			c := got["1.1.11"]
			if c.Status != tt.want11 || !strings.Contains(c.Detail, tt.detail11) || c.Target != data {
				t.Errorf("1.1.11 = %+v", c)
			}
			if c.Status == Fail && tt.dataDir != 1 && c.Fix != "chmod 700 "+data {
				t.Errorf("1.1.11 fix = %q", c.Fix)
			}
		})
	}
}

func TestDataDirNotMounted(t *testing.T) {
	root := hardenedRoot(t)
	write(t, root, "etc/kubernetes/manifests/etcd.yaml", etcdWith(t, "--data-dir=/var/lib/etcd", "--data-dir=/data"), 0o600)
	c := Run(load(t, root), Options{IDs: []string{"1.1.11"}})[0]
	if c.Status != Warn || !strings.Contains(c.Detail, "--data-dir=/data is not on a hostPath volume") {
		t.Errorf("1.1.11 = %+v", c)
	}
}

const encHead = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n"

func TestEncryptionProviders(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	key2 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	key16 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name   string
		config string // "" leaves the file out
		status Status
		detail string
	}{
		{"secretbox", secretboxConfig(t), Pass, "secrets: secretbox first"},
		{"kms v2", encHead + "- resources: [secrets, configmaps]\n  providers:\n  - kms: {apiVersion: v2, name: vault, endpoint: unix:///k.sock}\n", Pass, "secrets, configmaps: kms v2 first (vault)"},
		{"wildcard", encHead + "- resources: ['*.*']\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key + "}]}\n", Pass, "*.*: secretbox first"},
		{"identity first", encHead + "- resources: [secrets]\n  providers:\n  - identity: {}\n  - aescbc: {keys: [{name: k, secret: " + key + "}]}\n", Fail, "secrets: identity first: new writes are stored in plain text"},
		{"aescbc", encHead + "- resources: [secrets]\n  providers:\n  - aescbc: {keys: [{name: k, secret: " + key + "}]}\n  - identity: {}\n", Warn, "aescbc first: CBC is weak"},
		{"aesgcm", encHead + "- resources: [secrets]\n  providers:\n  - aesgcm: {keys: [{name: k, secret: " + key + "}]}\n", Warn, "rotated every 200,000 writes"},
		{"kms v1", encHead + "- resources: [secrets]\n  providers:\n  - kms: {name: old, endpoint: unix:///k.sock}\n", Warn, "KMS v1 is deprecated"},
		{"events left plain on purpose", encHead + "- resources: [events]\n  providers:\n  - identity: {}\n- resources: ['*.*']\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key + "}]}\n", Warn, "events: identity first: stored in plain text"},
		{"no secrets", encHead + "- resources: [configmaps]\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key + "}]}\n", Fail, "no entry covers secrets"},
		{"no providers", encHead + "- resources: [secrets]\n  providers: []\n", Fail, "at least one resources[0].providers is required"},
		{"unknown provider", encHead + "- resources: [secrets]\n  providers:\n  - rot13: {}\n", Fail, `unknown field "resources[0].providers[0].rot13"`},
		{"legacy kind", "kind: EncryptionConfig\napiVersion: v1\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key + "}]}\n", Pass, "secretbox first"},
		{"json", `{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1","resources":[{"resources":["secrets"],"providers":[{"identity":{}}]}]}`, Fail, "identity first"},
		{"wrong kind", "kind: ConfigMap\napiVersion: v1\n", Fail, "kube-apiserver would not start with ROOT/etc/kubernetes/enc/encryption-config.yaml: it is a ConfigMap, not an EncryptionConfiguration"},
		{"mangled", encHead + "- resources:\n  - secrets\n    providers:\n  - x\n", Fail, "kube-apiserver would not start with ROOT/etc/kubernetes/enc/encryption-config.yaml: yaml: line 6"},
		// What kube-apiserver refuses is a failing check, with the loader's reason (issue 11).
		{"short secretbox key", encHead + "- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key16 + "}]}\n", Fail, "kube-apiserver would not start with ROOT/etc/kubernetes/enc/encryption-config.yaml: error while parsing file: resources[0].providers[0].secretbox.keys[0].secret: Invalid value: \"REDACTED\": secret is not of the expected length, got 16, expected one of [32]"},
		{"secret not base64", encHead + "- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: \"not!!base64\"}]}\n", Fail, "secrets must be base64 encoded"},
		{"two keys named alike", encHead + "- resources: [secrets]\n  providers:\n  - secretbox: {keys: [{name: k, secret: " + key + "}, {name: k, secret: " + key2 + "}]}\n", Fail, `resources secrets: the secretbox provider has two keys named "k"`},
		{"missing file", "", Fail, "cannot read the encryption config " + "ROOT/etc/kubernetes/enc/encryption-config.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := hardenedRoot(t)
			p := filepath.Join(root, "etc/kubernetes/enc/encryption-config.yaml")
			if tt.config == "" {
				os.Remove(p)
			} else {
				write(t, root, "etc/kubernetes/enc/encryption-config.yaml", tt.config, 0o600)
			}
			c := Run(load(t, root), Options{IDs: []string{"1.2.28"}})[0]
			detail := strings.ReplaceAll(tt.detail, "ROOT", root)
			if c.Status != tt.status || !strings.Contains(c.Detail, detail) {
				t.Errorf("1.2.28 = %s %q; want %s containing %q", c.Status, c.Detail, tt.status, detail)
			}
			if c.Target != p {
				t.Errorf("target = %q, want %q", c.Target, p)
			}
			if c.Status != Pass && !strings.Contains(c.Fix, p) {
				t.Errorf("fix %q does not name %s", c.Fix, p)
			}
		})
	}
}

func TestEncryptionConfigNotMounted(t *testing.T) {
	root := hardenedRoot(t)
	api := strings.Replace(testdata(t, "hardened/kube-apiserver.yaml"), "/etc/kubernetes/enc/encryption-config.yaml", "/etc/encryption.yaml", 1)
	write(t, root, "etc/kubernetes/manifests/kube-apiserver.yaml", api, 0o600)
	got := byID(Run(load(t, root), Options{IDs: []string{"1.2.27", "1.2.28"}}))
	if got["1.2.27"].Status != Pass {
		t.Errorf("1.2.27 = %+v", got["1.2.27"])
	}
	c := got["1.2.28"]
	if c.Status != Fail || !strings.Contains(c.Detail, "--encryption-provider-config=/etc/encryption.yaml is not on a hostPath volume") || !strings.Contains(c.Fix, "hostPath volume") {
		t.Errorf("1.2.28 = %+v", c)
	}
}

// TestCorpusEncryption rates every real encryption config of the shared corpus.
func TestCorpusEncryption(t *testing.T) {
	want := map[string]struct {
		status Status
		detail string
	}{
		"GoogleCloudPlatform-k8s-cloudkms-plugin__legacy-EncryptionConfig-kms-odd-indent-no-eol.yaml": {Warn, "kms v1 first"},
		"NagsaiPeddeti-Kubernetes__encryption-config.yaml":                                            {Warn, "aescbc first"},
		"Rekt-Dev-CKA_prep__MANGLED-invalid-indentation.yaml":                                         {Fail, "yaml: line 9: mapping values are not allowed"},
		"kubernetes-apiserver__identity-first-all-providers-kmsv1-kmsv2.yaml":                         {Fail, "identity first"},
		"kubernetes-apiserver__json-two-aescbc-providers-no-identity.json":                            {Fail, "no entry covers secrets"},
		"kubernetes-apiserver__kmsv2-first.yaml":                                                      {Pass, "kms v2 first"},
		"kubernetes-apiserver__legacy-EncryptionConfig-v1-no-eol.yaml":                                {Fail, "identity first"},
		"kubernetes-apiserver__secretbox-first-identity-middle.yaml":                                  {Pass, "secretbox first"},
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "encryption", "*"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s", corpus)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatalf("new corpus file %s: add its expected result", name)
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			root := hardenedRoot(t)
			write(t, root, "etc/kubernetes/enc/encryption-config.yaml", string(data), 0o600)
			c := Run(load(t, root), Options{IDs: []string{"1.2.28"}})[0]
			if c.Status != w.status || !strings.Contains(c.Detail, w.detail) {
				t.Errorf("1.2.28 = %s %q; want %s containing %q", c.Status, c.Detail, w.status, w.detail)
			}
		})
	}
}

// TestCorpusManifests runs the audit over real etcd manifests: no panic, and the
// auto-tls cases come out as the files say.
func TestCorpusManifests(t *testing.T) {
	want := map[string]map[string]Status{
		"kubescape-regolibrary__minikube-auto-tls-true-quoted-flags.yaml": {"2.3": Fail, "2.1": Fail, "2.5": Pass},
		"kubescape-regolibrary__rke2-args-auto-tls-minimal.yaml":          {"2.3": Fail, "1.1.11": Warn},
		"jesmg-xiv-stic__kind-1.19-cipher-suites-auto-tls-false.yaml":     {"2.3": Pass, "2.6": Pass, "2.1": Pass, "2.2": Pass},
		"kodesam-CKA__kubeadm-1.19-etcd3.4.9.yaml":                        {"2.1": Pass, "2.4": Pass, "2.7": Warn},
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "etcd", "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no corpus at %s", corpus)
	}
	for _, f := range files {
		data, _ := os.ReadFile(f)
		root := tree(t, string(data), "")
		s, err := discover.Load(discover.Layout{Root: root})
		if err != nil {
			continue // the known-bad files; discover's tests cover them
		}
		got := byID(Run(s, Options{}))
		for id, st := range want[filepath.Base(f)] {
			if got[id].Status != st {
				t.Errorf("%s: %s = %s (%s), want %s", filepath.Base(f), id, got[id].Status, got[id].Detail, st)
			}
		}
	}
}

// TestDuplicateFlags: a flag given twice is a warning that names both, which one etcd
// uses and what to do; the CIS check reads the one etcd uses.
func TestDuplicateFlags(t *testing.T) {
	root := hardenedRoot(t)
	write(t, root, "etc/kubernetes/manifests/etcd.yaml",
		etcdWith(t, "    - --client-cert-auth=true\n", "    - --client-cert-auth=true\n    - --client-cert-auth=false\n"), 0o600)
	checks := Run(load(t, root), Options{})
	got := byID(checks)
	if c := got["2.2"]; c.Status != Fail {
		t.Errorf("2.2 = %s %q; etcd uses the last --client-cert-auth, false", c.Status, c.Detail)
	}
	d, ok := got[IDDuplicateFlags]
	if !ok {
		t.Fatalf("no %q finding in %+v", IDDuplicateFlags, checks)
	}
	for _, w := range []string{"etcd.yaml gives --client-cert-auth 2 times (--client-cert-auth=true, then --client-cert-auth=false): etcd uses the last one, --client-cert-auth=false"} {
		if d.Status != Warn || !strings.Contains(d.Detail, w) {
			t.Errorf("finding = %s %q, want warn with %q", d.Status, d.Detail, w)
		}
	}
	if want := "keep one --client-cert-auth"; !strings.Contains(d.Fix, want) {
		t.Errorf("fix %q does not say %q", d.Fix, want)
	}
	if _, ok := byID(Run(load(t, hardenedRoot(t)), Options{}))[IDDuplicateFlags]; ok {
		t.Error("a finding without duplicates")
	}
}
