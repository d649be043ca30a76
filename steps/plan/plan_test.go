package plan

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct {
		in, want, msg string
	}{
		{in: "etc/kubernetes/manifests/etcd.yaml", want: "etc/kubernetes/manifests/etcd.yaml"},
		{in: "./etc//kubernetes/x/../etcd.yaml", want: "etc/kubernetes/etcd.yaml"},
		{in: "/etc/kubernetes/manifests/etcd.yaml", msg: `absolute path; give the path relative to the root, e.g. "etc/kubernetes/manifests/etcd.yaml"`},
		{in: "../etc/passwd", msg: `climbs out of the root`},
		{in: "etc/../../passwd", msg: `climbs out of the root`},
		{in: "..", msg: `climbs out of the root`},
		{in: ".", msg: `climbs out of the root`},
		{in: "", msg: `empty file path`},
	} {
		got, err := CleanPath(tc.in)
		if tc.msg == "" {
			if err != nil || got != tc.want {
				t.Errorf("CleanPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.msg) || !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("CleanPath(%q) error = %v; want one containing %q and wrapping ErrOutsideRoot", tc.in, err, tc.msg)
		}
	}
}

func TestBadPathsAddNothing(t *testing.T) {
	root := seeded(t)
	p := New(root)
	id := func(b []byte) ([]byte, error) { return append(b, 'x'), nil }
	for _, err := range []error{
		p.Edit("/etc/kubernetes/manifests/etcd.yaml", "r", id),
		p.Edit("../outside.yaml", "r", id),
		p.Create("../../tmp/evil", []byte("x"), 0o644, 0o755, false, "r"),
		p.Create("/tmp/evil", []byte("x"), 0o644, 0o755, false, "r"),
	} {
		if !errors.Is(err, ErrOutsideRoot) {
			t.Errorf("got %v, want ErrOutsideRoot", err)
		}
	}
	if !p.Empty() {
		t.Fatalf("plan has %d changes after refused paths", len(p.Changes))
	}
}

func TestEditMissingFile(t *testing.T) {
	root := seeded(t)
	p := New(root)
	err := p.Edit("etc/kubernetes/manifests/nope.yaml", "r", func(b []byte) ([]byte, error) { return b, nil })
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "etc/kubernetes/manifests/nope.yaml: cannot edit a file that does not exist") {
		t.Fatalf("err = %v", err)
	}
	if !p.Empty() {
		t.Fatal("plan not empty")
	}
	if _, err := p.Current("etc/kubernetes/manifests/nope.yaml"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Current of a missing file: %v", err)
	}
}

func TestEditFuncErrorAddsNothing(t *testing.T) {
	p := New(seeded(t))
	boom := errors.New("no command list in the manifest")
	err := p.Edit(etcdPath, "r", func(b []byte) ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), etcdPath+": ") {
		t.Fatalf("err = %v", err)
	}
	if !p.Empty() {
		t.Fatal("plan not empty")
	}
}

func TestEditsCombine(t *testing.T) {
	root := seeded(t)
	p := mustPlan(t, root)
	c := p.Find(apiserverPath)
	if c == nil {
		t.Fatal("no change for kube-apiserver.yaml")
	}
	if len(p.Changes) != 4 {
		t.Fatalf("%d changes, want 4 (one per path)", len(p.Changes))
	}
	cur, err := p.Current(apiserverPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--encryption-provider-config=", "--etcd-cafile="} {
		if !bytes.Contains(cur, []byte(want)) {
			t.Errorf("Current lacks %s", want)
		}
	}
	if string(c.Old) != apiserverYAML || c.OldHash != hashOf([]byte(apiserverYAML)) || c.OldMode != 0o640 || c.ModeSet {
		t.Errorf("old state not kept: hash %s mode %v modeSet %v", c.OldHash, c.OldMode, c.ModeSet)
	}
	if len(c.Reasons) != 2 {
		t.Errorf("reasons = %q", c.Reasons)
	}
	var d FileDiff
	for _, fd := range p.FileDiffs() {
		if fd.Path == apiserverPath {
			d = fd
		}
	}
	if d.Added != 2 || d.Removed != 0 || strings.Count(d.Text, "\n+    - --") != 2 {
		t.Errorf("combined diff: +%d -%d\n%s", d.Added, d.Removed, d.Text)
	}
	// Current must not alias the plan's bytes.
	cur[0] = 'X'
	if c.New[0] == 'X' {
		t.Error("Current returned the plan's own slice")
	}
}

func TestEditBackToOriginalRemovesChange(t *testing.T) {
	p := New(seeded(t))
	add := insertAfter("    - --data-dir=/var/lib/etcd", "    - --client-cert-auth=true")
	if err := p.Edit(etcdPath, "add", add); err != nil {
		t.Fatal(err)
	}
	if err := p.Edit(etcdPath, "undo", func(b []byte) ([]byte, error) {
		return bytes.Replace(b, []byte("    - --client-cert-auth=true\n"), nil, 1), nil
	}); err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Fatalf("plan keeps a change that yields the original bytes: %+v", p.Changes[0])
	}
	// An edit that changes nothing adds nothing.
	if err := p.Edit(etcdPath, "noop", func(b []byte) ([]byte, error) { return b, nil }); err != nil || !p.Empty() {
		t.Fatalf("no-op edit: %v, %d changes", err, len(p.Changes))
	}
}

func TestCreateThenEditAndSecretMode(t *testing.T) {
	p := New(seeded(t))
	if err := p.Create(encPath, []byte("a: 1\n"), 0o644, 0, true, "key"); err != nil {
		t.Fatal(err)
	}
	if err := p.Edit(encPath, "rotate", func(b []byte) ([]byte, error) { return append(b, "b: 2\n"...), nil }); err != nil {
		t.Fatal(err)
	}
	c := p.Find(encPath)
	if c.Existed || c.Mode != 0o600 || !c.ModeSet || c.DirMode != 0o755 || string(c.New) != "a: 1\nb: 2\n" || !c.Secret {
		t.Fatalf("change = %+v", c)
	}
	// Create on an existing file replaces it and records what was there.
	if err := p.Create(etcdPath, []byte("x\n"), 0o644, 0o755, false, "replace"); err != nil {
		t.Fatal(err)
	}
	if c := p.Find(etcdPath); !c.Existed || string(c.Old) != etcdYAML || c.OldMode != 0o600 || c.Mode != 0o644 {
		t.Fatalf("replace = %+v", c)
	}
	if err := p.MarkSecret("etc/none"); err == nil {
		t.Fatal("MarkSecret of an unplanned file: no error")
	}
}

func TestEditRefusesSymlink(t *testing.T) {
	root := seeded(t)
	link := filepath.Join(root, "etc/kubernetes/manifests/link.yaml")
	if err := os.Symlink(filepath.Join(root, etcdPath), link); err != nil {
		t.Fatal(err)
	}
	p := New(root)
	err := p.Edit("etc/kubernetes/manifests/link.yaml", "r", func(b []byte) ([]byte, error) { return append(b, '#'), nil })
	if !errors.Is(err, ErrSymlink) || !strings.Contains(err.Error(), link+" is a symbolic link") {
		t.Fatalf("err = %v", err)
	}
}
