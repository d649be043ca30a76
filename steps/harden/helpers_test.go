package harden

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

var repoManifests = filepath.Join("..", "..", "testdata", "manifests")

// node lays out a kubeadm-like root: the two manifests (mode 0600) and etcd's data
// folder (0700). edits are old → new text pairs applied to both files.
func node(t testing.TB, etcd, apiserver []byte, edits ...string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	must(t, os.MkdirAll(dir, 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "var", "lib", "etcd"), 0o700))
	for name, data := range map[string][]byte{discover.EtcdFile: etcd, discover.APIServerFile: apiserver} {
		s := string(data)
		for i := 0; i+1 < len(edits); i += 2 {
			s = strings.ReplaceAll(s, edits[i], edits[i+1])
		}
		must(t, os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600))
	}
	return root
}

func readRepo(t testing.TB, set, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoManifests, set, name))
	must(t, err)
	return data
}

func unhardened(t testing.TB, edits ...string) string {
	return node(t, readRepo(t, "unhardened", discover.EtcdFile), readRepo(t, "unhardened", discover.APIServerFile), edits...)
}

func load(t testing.TB, root string) *discover.State {
	t.Helper()
	s, err := discover.Load(discover.Layout{Root: root})
	must(t, err)
	return s
}

func build(t testing.TB, root string, o Options) *Result {
	t.Helper()
	r, err := Build(load(t, root), o)
	must(t, err)
	return r
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// copyTree copies src into dst with the files' modes (no links).
func copyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o600); err != nil {
			return err
		}
		return os.Chmod(target, info.Mode().Perm())
	})
	must(t, err)
}

// run runs a command in dir and fails the test with its output on error.
func run(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s is not installed", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out.String())
	}
	return out.String()
}

// snapshot returns every file under dir with its content and mode.
func snapshot(t testing.TB, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		rel, _ := filepath.Rel(dir, p)
		out[filepath.ToSlash(rel)] = info.Mode().Perm().String() + "\n" + string(data)
		return nil
	})
	must(t, err)
	return out
}
