package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadAnswers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := LoadAnswers(write("ok.yaml", "encryption.provider: secretbox\nencryption.resources: [secrets, configmaps]\nencryption.rotate: false\nbackup.keep: 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"encryption.provider": "secretbox", "encryption.resources": "secrets,configmaps", "encryption.rotate": "false", "backup.keep": "7"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for name, tc := range map[string]struct{ text, want string }{
		"typo":     {"encryption.provder: secretbox\n", "unknown keys encryption.provder"},
		"not YAML": {"- a\n- b\n", "is not a YAML map of answers"},
	} {
		if _, err := LoadAnswers(write(name+".yaml", tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, tc.want)
		}
	}
	if _, err := LoadAnswers(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file: err = %v", err)
	}
}
