package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var fuzzFiles = []string{"etcd-insecure.yaml", "apiserver-4space-folded-crlf.yaml", "etcd-args.yaml", "etcd-kubeadm.yaml"}

// FuzzSetFlag sets arbitrary flags to arbitrary values: each call either fails
// leaving the bytes alone, or leaves the flag once with exactly that value, in a
// file that parses, and a second call changes nothing.
func FuzzSetFlag(f *testing.F) {
	for _, s := range [][2]string{
		{"cert-file", "/x"}, {"data-dir", "a: b"}, {"data-dir", "-x"}, {"x", "'\"\\\n\t"},
		{"enable-admission-plugins", "#c"}, {"secure-port", ""}, {"name", "- x"},
		{"--auth", "\u2028"}, {"k", "{a: b}"}, {"client-cert-auth", "true"}, {"etcd-cafile", " lead"},
		{"a", "trail "}, {"b", "\x00\x85\xff"}, {"-c", "&anchor"}, {"d", "*alias"}, {"e", "!tag"},
	} {
		f.Add(s[0], s[1])
	}
	srcs := make([][]byte, len(fuzzFiles))
	for i, name := range fuzzFiles {
		srcs[i] = load(f, name)
	}
	f.Fuzz(func(t *testing.T, flag, value string) {
		for i, src := range srcs {
			e, err := NewEditor(fuzzFiles[i], src)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.SetFlag("", flag, value); err != nil {
				if !errors.Is(err, ErrInvalidArgument) && !errors.Is(err, ErrUnsupportedLayout) {
					t.Fatalf("%s: unexpected error %v", fuzzFiles[i], err)
				}
				if !bytes.Equal(e.Bytes(), src) {
					t.Fatal("failed SetFlag changed the bytes")
				}
				continue
			}
			out := e.Bytes()
			again, err := NewEditor("out", out)
			if err != nil {
				t.Fatalf("%s: output does not parse: %v\n%s", fuzzFiles[i], err, out)
			}
			got, ok := again.Flag("", flag)
			name, _ := flagName(flag)
			if !ok || (got != value && !(value == "true" && got == "true")) {
				t.Fatalf("%s: Flag = %q, %v; want %q", fuzzFiles[i], got, ok, value)
			}
			argv, _ := again.Argv("")
			n := 0
			for _, a := range argv {
				if a == "--"+name || a == "-"+name || strings.HasPrefix(a, "--"+name+"=") || strings.HasPrefix(a, "-"+name+"=") {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%s: flag appears %d times", fuzzFiles[i], n)
			}
			if err := again.SetFlag("", flag, value); err != nil || !bytes.Equal(again.Bytes(), out) {
				t.Fatalf("%s: second SetFlag: %v, changed %v", fuzzFiles[i], err, !bytes.Equal(again.Bytes(), out))
			}
		}
	})
}

// FuzzEditor feeds arbitrary files: NewEditor refuses them with
// ErrInvalidManifest or the edits either fail cleanly or give a file that parses.
func FuzzEditor(f *testing.F) {
	for _, name := range fuzzFiles {
		f.Add(load(f, name))
	}
	for _, kind := range []string{"etcd", "apiserver"} {
		files, _ := filepath.Glob(filepath.Join(corpus, kind, "*.yaml"))
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("kind: Pod\nspec:\n  containers:\n  - name: a\n    args: []\n    command:\n"))
	f.Add([]byte("kind: Pod\nspec:\n  containers:\n  - {name: a, command: [a]}\n  volumes: []"))
	f.Fuzz(func(t *testing.T, src []byte) {
		e, err := NewEditor("f.yaml", src)
		if err != nil {
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("NewEditor: %v", err)
			}
			return
		}
		steps := []func() error{
			func() error { return e.SetFlag("", "cert-file", "/x") },
			func() error { return e.SetFlag("", "name", "n: 1") },
			func() error { return e.RemoveFlag("", "data-dir") },
			func() error { return e.EnsureHostPathMount("", encMount) },
		}
		for _, step := range steps {
			before := e.Bytes()
			if err := step(); err != nil {
				if !bytes.Equal(before, e.Bytes()) {
					t.Fatal("failed edit changed the bytes")
				}
				continue
			}
			if _, err := NewEditor("out", e.Bytes()); err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
		}
	})
}
