package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestPlanNeverShowsTheKey runs `plan --out` end to end and searches everything a person
// or a reviewer sees (stdout, stderr, the patch, the review, the kubeadm patch) for the
// generated key's base64 text and for private key blocks.
func TestPlanNeverShowsTheKey(t *testing.T) {
	root := unhardenedRoot(t)
	out := filepath.Join(t.TempDir(), "plan")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"plan", "--root", root, "--out", out}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("plan: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}

	// The key is only in secrets/, mode 0600.
	cfgPath := filepath.Join(out, "secrets", "etc", "kubernetes", "enc", "encryption-config.yaml")
	fi, err := os.Stat(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", cfgPath, fi.Mode().Perm())
	}
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Resources []struct {
			Providers []map[string]struct {
				Keys []struct{ Secret string } `json:"keys"`
			} `json:"providers"`
		} `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatal(err)
	}
	var key string
	for _, p := range cfg.Resources[0].Providers {
		for _, v := range p {
			if len(v.Keys) > 0 {
				key = v.Keys[0].Secret
			}
		}
	}
	if len(key) != 44 {
		t.Fatalf("no 32-byte base64 key found in %s", cfgPath)
	}

	seen := map[string]string{"stdout": stdout.String(), "stderr": stderr.String()}
	for _, name := range []string{"changes.patch", "REVIEW.md", "kubeadm-patch.yaml", "plan.json", ".gitignore"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		seen[name] = string(b)
	}
	for where, text := range seen {
		if strings.Contains(text, key) {
			t.Errorf("the encryption key's base64 text is in %s", where)
		}
		if strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("a private key block is in %s", where)
		}
	}
	if !strings.Contains(seen[".gitignore"], "secrets/") {
		t.Errorf(".gitignore does not leave out secrets/:\n%s", seen[".gitignore"])
	}
}
