package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// corpus is the folder of real manifests shared by the project's tests.
var corpus = filepath.Join("..", "..", "..", "shared", "corpus")

// TestCorpus hardens every real manifest that is a Pod: each flag ends up once
// with its value, only the touched flags' lines change (inline comments kept),
// the result parses, and a second run changes nothing. Files that are not
// manifests (Go templates, elided snippets) must fail with ErrInvalidManifest.
func TestCorpus(t *testing.T) {
	for _, kind := range []string{"etcd", "apiserver"} {
		files, _ := filepath.Glob(filepath.Join(corpus, kind, "*.yaml"))
		if len(files) == 0 {
			t.Skipf("no corpus at %s", corpus)
		}
		for _, f := range files {
			t.Run(kind+"/"+filepath.Base(f), func(t *testing.T) {
				in, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				e, err := NewEditor(filepath.Base(f), in)
				bad := strings.Contains(f, "gotemplate") || strings.Contains(f, "elided")
				if bad || err != nil {
					if !bad || !errors.Is(err, ErrInvalidManifest) || !strings.HasPrefix(err.Error(), filepath.Base(f)+": ") {
						t.Fatalf("NewEditor: %v (want an ErrInvalidManifest naming the file: %v)", err, bad)
					}
					t.Logf("refused as expected: %v", err)
					return
				}
				container, want, edit := corpusEdit(kind, e)
				if err := edit(e); err != nil {
					t.Fatal(err)
				}
				out := e.Bytes()
				checkCorpusOutput(t, in, out, container, want)

				again, err := NewEditor(filepath.Base(f), out)
				if err != nil {
					t.Fatalf("output does not parse: %v", err)
				}
				if err := edit(again); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(again.Bytes(), out) {
					t.Error("a second run changed the file")
				}
			})
		}
	}
}

// corpusEdit returns the container to edit, the flags it must end with, and the edit.
func corpusEdit(kind string, e *Editor) (string, map[string]string, func(*Editor) error) {
	if kind == "apiserver" {
		return "kube-apiserver", apiserverEtcd, hardenAPIServer("kube-apiserver")
	}
	container := ""
	if _, err := e.Argv("etcd"); err == nil {
		container = "etcd"
	}
	return container, etcdTLS, hardenEtcd(container)
}

func checkCorpusOutput(t *testing.T, in, out []byte, container string, want map[string]string) {
	t.Helper()
	e, err := NewEditor("out.yaml", out)
	if err != nil {
		t.Fatalf("output does not parse: %v", err)
	}
	argv, err := e.Argv(container)
	if err != nil {
		t.Fatal(err)
	}
	touched := []string{}
	for f, v := range want {
		touched = append(touched, f)
		n := 0
		for _, a := range argv {
			if a == "--"+f || strings.HasPrefix(a, "--"+f+"=") {
				n++
			}
		}
		if got, _ := e.Flag(container, f); n != 1 || got != v {
			t.Errorf("--%s appears %d times, value %q; want once, %q", f, n, got, v)
		}
	}
	if _, ok := want["cert-file"]; ok {
		touched = append(touched, etcdURLFlags...)
		for _, f := range etcdURLFlags {
			if v, _ := e.Flag(container, f); strings.Contains(v, "http://") {
				t.Errorf("--%s=%s still uses http", f, v)
			}
		}
	}
	removed, added := lineDiff(in, out)
	for _, l := range removed {
		ok := false
		for _, f := range touched {
			ok = ok || strings.Contains(l, "--"+f)
		}
		if !ok {
			t.Errorf("line not kept: %q", l)
		}
		if _, comment, found := strings.Cut(l, " #"); found {
			kept := false
			for _, a := range added {
				kept = kept || strings.HasSuffix(a, " #"+comment)
			}
			if !kept {
				t.Errorf("comment of %q lost", l)
			}
		}
	}
	t.Logf("%d lines replaced or removed, %d added", len(removed), len(added))
}
