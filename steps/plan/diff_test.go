package plan

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// edgePlan is fullPlan plus the awkward cases: files without a final newline on either
// side, a new file without one, an empty new file, and a mode change.
func edgePlan(t *testing.T, root string) *Plan {
	t.Helper()
	for name, data := range map[string]string{
		"etc/noeol.conf":  "a\nb\nc",
		"etc/addeol.conf": "x",
		"etc/run.sh":      "#!/bin/sh\necho hi\n",
	} {
		if err := os.WriteFile(filepath.Join(root, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := mustPlan(t, root)
	for _, err := range []error{
		p.Edit("etc/noeol.conf", "r", func(b []byte) ([]byte, error) { return bytes.Replace(b, []byte("c"), []byte("c\nd"), 1), nil }),
		p.Edit("etc/addeol.conf", "r", func(b []byte) ([]byte, error) { return []byte("x\n"), nil }),
		p.Create("etc/etcd-harden/noeol", []byte("hello"), 0o644, 0o755, false, "r"),
		p.Create("etc/etcd-harden/empty", nil, 0o644, 0o755, false, "r"),
		p.Create("etc/run.sh", []byte("#!/bin/sh\necho hello\n"), 0o755, 0o755, false, "r"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// wantAfterPatch is the tree a patch tool should leave: secret files untouched.
func wantAfterPatch(t *testing.T, root string, p *Plan) map[string]string {
	want := map[string]string{}
	for path, s := range snapshot(t, root) {
		want[path] = s.data
	}
	for _, c := range p.Changes {
		if !c.Secret {
			want[c.Path] = string(c.New)
		}
	}
	return want
}

func checkPatched(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	got := snapshot(t, dir)
	for path, w := range want {
		if g, ok := got[path]; !ok || g.data != w {
			t.Errorf("%s after patch: %q (present %v), want %q", path, g.data, ok, w)
		}
	}
	for path := range got {
		if _, ok := want[path]; !ok && !strings.HasSuffix(path, ".orig") {
			t.Errorf("%s: unexpected file after patch", path)
		}
	}
}

func TestPatchAppliesWithGitAndPatch(t *testing.T) {
	root := seeded(t)
	p := edgePlan(t, root)
	patch := p.Patch()
	want := wantAfterPatch(t, root, p)
	file := filepath.Join(t.TempDir(), "plan.patch")
	if err := os.WriteFile(file, patch, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"diff --git a/etc/etcd-harden/README b/etc/etcd-harden/README\nnew file mode 100644\n--- /dev/null\n+++ b/etc/etcd-harden/README\n",
		"--- a/" + apiserverPath + "\n+++ b/" + apiserverPath + "\n",
		"\\ No newline at end of file\n",
		"old mode 100644\nnew mode 100755\n",
		"# secret file " + encPath + ", mode 0600: created by the plan",
	} {
		if !bytes.Contains(patch, []byte(want)) {
			t.Errorf("patch lacks %q:\n%s", want, patch)
		}
	}

	t.Run("git apply", func(t *testing.T) {
		dir := copyTree(t, root)
		run(t, dir, "git", "apply", "--check", file)
		run(t, dir, "git", "apply", file)
		checkPatched(t, dir, want)
		if info, err := os.Stat(filepath.Join(dir, "etc/run.sh")); err != nil || info.Mode().Perm()&0o100 == 0 {
			t.Errorf("git apply did not make run.sh executable: %v %v", info, err)
		}
	})
	t.Run("patch -p1", func(t *testing.T) {
		if _, err := exec.LookPath("patch"); err != nil {
			t.Skip("patch is not installed")
		}
		dir := copyTree(t, root)
		run(t, dir, "patch", "-p1", "--batch", "--forward", "-i", file)
		checkPatched(t, dir, want)
	})
}

func TestSecretsNeverInPatch(t *testing.T) {
	root := seeded(t)
	p := mustPlan(t, root)
	// A secret that is also edited afterwards stays secret.
	if err := p.Edit(encPath, "rotate", func(b []byte) ([]byte, error) {
		return append(b, "# second key "+secretKey+"\n"...), nil
	}); err != nil {
		t.Fatal(err)
	}
	patch := p.Patch()
	if bytes.Contains(patch, []byte(secretKey)) || bytes.Contains(patch, []byte("secretbox")) {
		t.Fatalf("secret content in patch:\n%s", patch)
	}
	if got := p.SecretFiles(); len(got) != 1 || got[0] != encPath {
		t.Errorf("SecretFiles = %q", got)
	}
	for _, d := range p.FileDiffs() {
		if strings.Contains(d.Text, secretKey) {
			t.Errorf("%s: secret in FileDiff text", d.Path)
		}
		if d.Path == encPath && (!d.Secret || d.Text != "" || d.Added == 0 || !d.New || d.Mode != 0o600) {
			t.Errorf("secret FileDiff = %+v", d)
		}
	}
	// A replaced file marked secret is left out too.
	if err := p.MarkSecret(etcdPath); err != nil {
		t.Fatal(err)
	}
	patch = p.Patch()
	if bytes.Contains(patch, []byte("client-cert-auth")) || !bytes.Contains(patch, []byte("# secret file "+etcdPath+", mode 0600: replaced")) {
		t.Fatalf("marked secret still shown:\n%s", patch)
	}
	dir := copyTree(t, root)
	file := filepath.Join(t.TempDir(), "p.patch")
	os.WriteFile(file, patch, 0o600)
	run(t, dir, "git", "apply", file)
}

func TestOnlySecretsPatchHasNoDiff(t *testing.T) {
	p := New(seeded(t))
	if err := p.Create(encPath, []byte(secretKey), 0o600, 0o700, true, "key"); err != nil {
		t.Fatal(err)
	}
	if patch := p.Patch(); bytes.Contains(patch, []byte("diff --git")) || !bytes.HasPrefix(patch, []byte("# secret file ")) {
		t.Fatalf("patch:\n%s", patch)
	}
}

// TestPatchOnCorpus edits real manifests (some without a final newline) at the top,
// the middle and the end, and checks both tools apply the patch.
func TestPatchOnCorpus(t *testing.T) {
	corpus := filepath.Join("..", "..", "..", "shared", "corpus")
	files, _ := filepath.Glob(filepath.Join(corpus, "*", "*.yaml"))
	if len(files) == 0 {
		t.Skip("corpus not found at", corpus)
	}
	root := t.TempDir()
	p := New(root)
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel := filepath.ToSlash(filepath.Join("corpus", filepath.Base(filepath.Dir(f)), filepath.Base(f)))
		os.MkdirAll(filepath.Join(root, filepath.Dir(rel)), 0o755)
		if err := os.WriteFile(filepath.Join(root, rel), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := p.Edit(rel, "corpus", func(b []byte) ([]byte, error) {
			lines := strings.SplitAfter(string(b), "\n")
			mid := len(lines) / 2
			lines[mid] = "# inserted by etcd-harden\n" + lines[mid]
			out := "# top\n" + strings.Join(lines, "")
			if i%2 == 0 {
				out += "# end"
			}
			return []byte(out), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := wantAfterPatch(t, root, p)
	file := filepath.Join(t.TempDir(), "corpus.patch")
	os.WriteFile(file, p.Patch(), 0o600)
	dir := copyTree(t, root)
	run(t, dir, "git", "apply", file)
	checkPatched(t, dir, want)
	if _, err := exec.LookPath("patch"); err == nil {
		dir := copyTree(t, root)
		run(t, dir, "patch", "-p1", "--batch", "--forward", "-i", file)
		checkPatched(t, dir, want)
	}
}
