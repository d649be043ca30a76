package plan

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSaveLoadApply(t *testing.T) {
	root := seeded(t)
	p := edgePlan(t, root)
	dir := filepath.Join(t.TempDir(), "plan")
	if err := p.Save(dir); err != nil {
		t.Fatal(err)
	}
	if m, _, _ := statOwner(t, filepath.Join(dir, "files", encPath)); m != 0o600 {
		t.Errorf("saved secret has mode %v", m)
	}
	if patch := readFile(t, filepath.Join(dir, PatchName)); patch != string(p.Patch()) || strings.Contains(patch, secretKey) {
		t.Error("saved patch differs or holds the secret")
	}
	q, err := Load(dir, root)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(q.Patch(), p.Patch()) || len(q.Changes) != len(p.Changes) {
		t.Fatalf("loaded plan differs:\n%s", q.Patch())
	}
	for i, c := range q.Changes {
		o := p.Changes[i]
		if c.Path != o.Path || c.Mode != o.Mode || c.DirMode != o.DirMode || c.Secret != o.Secret || !bytes.Equal(c.Old, o.Old) {
			t.Errorf("%s: loaded %+v, saved %+v", c.Path, c, o)
		}
	}
	if _, err := q.Apply(ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(root, encPath)) != string(p.Find(encPath).New) {
		t.Error("secret not applied from the saved plan")
	}
	if err := p.Save(dir); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Errorf("save into a used folder: %v", err)
	}
}

func TestLoadRefusesStaleAndAltered(t *testing.T) {
	root := seeded(t)
	dir := filepath.Join(t.TempDir(), "plan")
	if err := mustPlan(t, root).Save(dir); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, etcdPath), []byte("edited by hand\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "files", apiserverPath), []byte("tampered\n"), 0o600)
	_, err := Load(dir, root)
	if !errors.Is(err, ErrStale) || !strings.Contains(err.Error(), "etcd.yaml changed after the plan was made") ||
		!strings.Contains(err.Error(), "kube-apiserver.yaml does not match the hash in plan.json") {
		t.Fatalf("err = %v", err)
	}
}
