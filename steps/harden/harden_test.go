package harden

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Comments a person put in the manifests; the plan must keep them.
var commentEdits = []string{
	"    - --data-dir=/var/lib/etcd\n", "    # data stays on the node's disk\n    - --data-dir=/var/lib/etcd\n",
	"    - --secure-port=6443\n", "    - --secure-port=6443 # kubeadm default\n",
}

func TestBuildWriteOutUnhardened(t *testing.T) {
	root := unhardened(t, commentEdits...)
	r := build(t, root, Options{})
	if r.Plan.Empty() {
		t.Fatal("empty plan for an unhardened node")
	}
	if r.Encryption.Action != encryption.ActionNew || r.Encryption.Key.IsZero() {
		t.Fatalf("encryption: %+v", r.Encryption)
	}
	if !audit.Failed(r.Before) {
		t.Error("the unhardened node passes every check before the plan")
	}
	for _, c := range r.After {
		if c.Status == audit.Fail {
			t.Errorf("after the plan, CIS %s fails: %s", c.ID, c.Detail)
		}
		if strings.Contains(c.Target+c.Detail+c.Fix, os.TempDir()+string(filepath.Separator)+"etcd-harden-audit-") {
			t.Errorf("CIS %s names the audit's temporary folder: %+v", c.ID, c)
		}
	}
	if len(r.Steps) == 0 || !strings.Contains(r.Steps[0], "etcd first") {
		t.Errorf("steps left: %q", r.Steps)
	}

	out := filepath.Join(t.TempDir(), "plan")
	must(t, WriteOut(out, r, WriteOptions{}))
	for _, f := range []string{PatchFile, ReviewFile, KubeadmFile, IndexFile, GitignoreFile} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	gi, _ := os.ReadFile(filepath.Join(out, GitignoreFile))
	if !strings.Contains(string(gi), "\nsecrets/\n") {
		t.Errorf(".gitignore = %q", gi)
	}
	checkSecrets(t, out, r)
	checkReview(t, out)
	checkKubeadm(t, out)

	// The patch applies with git and with patch -p1 in copies of the root.
	patched := t.TempDir()
	copyTree(t, root, patched)
	patchFile := filepath.Join(out, PatchFile)
	run(t, patched, "git", "apply", "--check", patchFile)
	run(t, patched, "git", "apply", patchFile)
	dry := t.TempDir()
	copyTree(t, root, dry)
	run(t, dry, "patch", "-p1", "--dry-run", "-i", patchFile)

	// Each flag once, comments kept.
	ps := load(t, patched)
	for _, m := range []*discover.Manifest{ps.Etcd, ps.APIServer} {
		for _, f := range m.Flags {
			if n := m.FlagCount(f.Name); n != 1 {
				t.Errorf("%s: --%s appears %d times", m.RelPath, f.Name, n)
			}
		}
	}
	for _, c := range []struct{ file, text string }{
		{discover.EtcdFile, "# data stays on the node's disk"},
		{discover.APIServerFile, "--secure-port=6443 # kubeadm default"},
	} {
		data, _ := os.ReadFile(filepath.Join(patched, "etc", "kubernetes", "manifests", c.file))
		if !strings.Contains(string(data), c.text) {
			t.Errorf("%s lost the comment %q", c.file, c.text)
		}
	}
	for _, f := range []string{"--cert-file=/etc/kubernetes/pki/etcd/server.crt", "--client-cert-auth=true", "--listen-client-urls=https://127.0.0.1:2379"} {
		if _, ok := ps.Etcd.Flag(strings.SplitN(strings.TrimPrefix(f, "--"), "=", 2)[0]); !ok {
			t.Errorf("etcd.yaml lacks %s", f)
		}
	}

	// With the secrets copied in, the manifests chmod 600 (git apply does not keep a
	// manifest's 0600 mode: apply --plan does) and the patch's chmod lines run, the
	// patched root is the planned node: planning again changes nothing.
	copyTree(t, filepath.Join(out, SecretsDir), patched)
	run(t, patched, "chmod", "600", "etc/kubernetes/manifests/etcd.yaml", "etc/kubernetes/manifests/kube-apiserver.yaml")
	patchText, _ := os.ReadFile(patchFile)
	for _, line := range strings.Split(string(patchText), "\n") {
		if _, chmod, ok := strings.Cut(line, "in the root run: chmod "); ok && strings.HasPrefix(line, "# mode ") {
			run(t, patched, "chmod", strings.Fields(chmod)...)
		}
	}
	again := build(t, patched, Options{})
	if !again.Plan.Empty() {
		t.Errorf("planning the hardened node again changes:\n%s", again.Plan.Patch())
	}

	// ReadOut gives back the same plan; plan.Apply of it gives the same files as git apply.
	p, err := ReadOut(out, root)
	must(t, err)
	if !bytes.Equal(p.Patch(), r.Plan.Patch()) || len(p.Changes) != len(r.Plan.Changes) {
		t.Fatal("ReadOut's plan differs from the one written")
	}
	for i, c := range p.Changes {
		w := r.Plan.Changes[i]
		if c.Path != w.Path || !bytes.Equal(c.New, w.New) || c.Mode != w.Mode || c.Secret != w.Secret ||
			c.OldHash != w.OldHash || !reflect.DeepEqual(c.Reasons, w.Reasons) || c.DirMode != w.DirMode {
			t.Errorf("change %d: ReadOut %+v, written %+v", i, c, w)
		}
	}
	applied := root // a plan is applied to the root it was made for
	p2, err := ReadOut(out, applied)
	must(t, err)
	if _, err := p2.Apply(plan.ApplyOptions{BackupRoot: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	a, b := snapshot(t, applied), snapshot(t, patched)
	for k := range b {
		if content(a[k]) != content(b[k]) {
			t.Errorf("%s differs between apply --plan and git apply + secrets", k)
		}
	}
	if len(a) != len(b) {
		t.Errorf("apply --plan made %d files, git apply + secrets %d", len(a), len(b))
	}
	// The audit AuditAfter predicted is the audit of the applied node.
	got := statuses(audit.Run(load(t, applied), audit.Options{}))
	if want := statuses(r.After); !reflect.DeepEqual(got, want) {
		t.Errorf("audit of the applied node = %v, AuditAfter predicted %v", got, want)
	}
}

// content drops the mode line of a snapshot entry.
func content(s string) string {
	_, c, _ := strings.Cut(s, "\n")
	return c
}

func statuses(cs []audit.Check) map[string]audit.Status {
	m := map[string]audit.Status{}
	for _, c := range cs {
		m[c.ID] = c.Status
	}
	return m
}

// checkSecrets: the key and every private key are only in secrets/, with 0700/0600.
func checkSecrets(t *testing.T, out string, r *Result) {
	t.Helper()
	key := r.Encryption.Key.Reveal()
	if key == "" {
		t.Fatal("no key")
	}
	for _, f := range []string{PatchFile, ReviewFile, KubeadmFile, IndexFile} {
		data, err := os.ReadFile(filepath.Join(out, f))
		must(t, err)
		if bytes.Contains(data, []byte(key)) {
			t.Errorf("%s holds the encryption key", f)
		}
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a private key", f)
		}
	}
	secrets := filepath.Join(out, SecretsDir)
	n, keys := 0, 0
	must(t, filepath.Walk(secrets, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			if info.Mode().Perm() != 0o700 {
				t.Errorf("%s has mode %04o, want 0700", p, info.Mode().Perm())
			}
			return nil
		}
		n++
		if info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", p, info.Mode().Perm())
		}
		data, _ := os.ReadFile(p)
		if bytes.Contains(data, []byte("PRIVATE KEY")) {
			keys++
		}
		return nil
	}))
	if want := len(r.Plan.SecretFiles()); n != want || keys != want-1 {
		t.Errorf("secrets/ holds %d files (%d private keys), want %d (the config and %d keys)", n, keys, want, want-1)
	}
	if _, err := os.Stat(filepath.Join(secrets, "etc", "kubernetes", "enc", "encryption-config.yaml")); err != nil {
		t.Error(err)
	}
}

func checkReview(t *testing.T, out string) {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(out, ReviewFile))
	s := string(data)
	for _, want := range []string{
		"## Files", "/etc/kubernetes/manifests/etcd.yaml", "certs: etcd serves clients and peers over mutual TLS",
		"## CIS checks before and after", "| 2.1 |", "| 1.2.27 |",
		"## Steps left to you", "etcd first", "kubectl get secrets --all-namespaces -o json | kubectl replace -f -",
		"outside the cluster", "next certificate to expire", "## Secrets", "secret (not shown)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("REVIEW.md lacks %q", want)
		}
	}
}

func checkKubeadm(t *testing.T, out string) {
	t.Helper()
	data, _ := os.ReadFile(filepath.Join(out, KubeadmFile))
	s := string(data)
	for _, want := range []string{
		"kubernetes/kubeadm#2867", "apiVersion: kubeadm.k8s.io/v1beta4", "kind: ClusterConfiguration",
		"apiServer:\n  extraArgs:\n", "    - name: encryption-provider-config\n      value: /etc/kubernetes/enc/encryption-config.yaml\n",
		"extraVolumes:", "hostPath: /etc/kubernetes/enc", "readOnly: true", "pathType: DirectoryOrCreate",
		"etcd:\n  local:\n    extraArgs:", "name: cert-file", "value: https://127.0.0.1:2379",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("kubeadm-patch.yaml lacks %q:\n%s", want, s)
		}
	}
}

func TestReadOutRefuses(t *testing.T) {
	root := unhardened(t)
	r := build(t, root, Options{})
	out := filepath.Join(t.TempDir(), "plan")
	must(t, WriteOut(out, r, WriteOptions{}))
	before := snapshot(t, out)

	t.Run("manifest edited", func(t *testing.T) {
		etcd := filepath.Join(root, "etc", "kubernetes", "manifests", discover.EtcdFile)
		orig, _ := os.ReadFile(etcd)
		must(t, os.WriteFile(etcd, append(bytes.Clone(orig), "# edited\n"...), 0o600))
		defer os.WriteFile(etcd, orig, 0o600)
		_, err := ReadOut(out, root)
		if !errors.Is(err, plan.ErrStale) || !strings.Contains(err.Error(), etcd+" changed after the plan was made") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("file created since", func(t *testing.T) {
		cfg := filepath.Join(root, "etc", "kubernetes", "enc", "encryption-config.yaml")
		must(t, os.MkdirAll(filepath.Dir(cfg), 0o700))
		must(t, os.WriteFile(cfg, []byte("x"), 0o600))
		defer os.RemoveAll(filepath.Dir(cfg))
		_, err := ReadOut(out, root)
		if !errors.Is(err, plan.ErrStale) || !strings.Contains(err.Error(), cfg+" was created after") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("patch altered", func(t *testing.T) {
		f := filepath.Join(out, PatchFile)
		orig, _ := os.ReadFile(f)
		must(t, os.WriteFile(f, bytes.Replace(orig, []byte("https://"), []byte("http://"), 1), 0o644))
		defer os.WriteFile(f, orig, 0o644)
		_, err := ReadOut(out, root)
		if !errors.Is(err, ErrAltered) || !strings.Contains(err.Error(), f) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("secret altered", func(t *testing.T) {
		f := filepath.Join(out, SecretsDir, "etc", "kubernetes", "enc", "encryption-config.yaml")
		orig, _ := os.ReadFile(f)
		must(t, os.WriteFile(f, append(bytes.Clone(orig), '\n'), 0o600))
		defer os.WriteFile(f, orig, 0o600)
		_, err := ReadOut(out, root)
		if !errors.Is(err, ErrAltered) || !strings.Contains(err.Error(), "etc/kubernetes/enc/encryption-config.yaml") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not a plan", func(t *testing.T) {
		_, err := ReadOut(t.TempDir(), root)
		if err == nil || !strings.Contains(err.Error(), "plan --out") {
			t.Fatalf("err = %v", err)
		}
	})
	if after := snapshot(t, out); !reflect.DeepEqual(before, after) {
		t.Error("ReadOut changed the plan folder")
	}
	if _, err := ReadOut(out, root); err != nil {
		t.Fatalf("after restoring every file: %v", err)
	}
}

func TestWriteOutFolder(t *testing.T) {
	root := unhardened(t)
	r := build(t, root, Options{})
	parent := t.TempDir()

	foreign := filepath.Join(parent, "foreign")
	must(t, os.MkdirAll(foreign, 0o755))
	must(t, os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644))
	err := WriteOut(foreign, r, WriteOptions{Replace: true})
	if !errors.Is(err, ErrNotPlanFolder) || !strings.Contains(err.Error(), foreign) {
		t.Fatalf("err = %v", err)
	}
	if got := snapshot(t, foreign); len(got) != 1 {
		t.Errorf("the foreign folder changed: %v", got)
	}

	empty := filepath.Join(parent, "empty")
	must(t, os.MkdirAll(empty, 0o755))
	must(t, WriteOut(empty, r, WriteOptions{}))

	err = WriteOut(empty, r, WriteOptions{})
	if !errors.Is(err, ErrPlanExists) {
		t.Fatalf("err = %v", err)
	}
	r2 := build(t, root, Options{Provider: encryption.AESGCM})
	must(t, WriteOut(empty, r2, WriteOptions{Replace: true}))
	p, err := ReadOut(empty, root)
	must(t, err)
	if !bytes.Equal(p.Patch(), r2.Plan.Patch()) {
		t.Error("the replaced folder does not hold the new plan")
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 2 {
		t.Errorf("left behind next to the plan: %v", entries)
	}

	file := filepath.Join(parent, "file")
	must(t, os.WriteFile(file, nil, 0o644))
	if err := WriteOut(file, r, WriteOptions{}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("err = %v", err)
	}
}

func TestCertsModes(t *testing.T) {
	t.Run("existing refuses missing files", func(t *testing.T) {
		root := unhardened(t)
		_, err := Build(load(t, root), Options{Certs: CertsExisting})
		if !errors.Is(err, ErrCertsFailing) || !strings.Contains(err.Error(), filepath.Join(root, "etc/kubernetes/pki/etcd/server.crt")) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("generate re-issues the leaves, keeps the CA", func(t *testing.T) {
		root := hardenedNode(t)
		r := build(t, root, Options{Certs: CertsGenerate})
		if g := r.Certs.Generated; g == nil || g.NewCA || len(g.Issued) != 4 {
			t.Fatalf("generated: %+v", g)
		}
		if r.Plan.Find("etc/kubernetes/pki/etcd/ca.crt") != nil {
			t.Error("the CA is replaced")
		}
		r2 := build(t, root, Options{Certs: CertsExisting})
		if !r2.Plan.Empty() {
			t.Errorf("existing on a hardened node changes:\n%s", r2.Plan.Patch())
		}
	})
	t.Run("rsa", func(t *testing.T) {
		root := unhardened(t)
		r := build(t, root, Options{KeyType: "rsa-2048"})
		if c := r.Plan.Find("etc/kubernetes/pki/etcd/server.key"); c == nil || !bytes.Contains(c.New, []byte("RSA PRIVATE KEY")) {
			t.Error("no RSA server key")
		}
	})
	t.Run("unknown mode", func(t *testing.T) {
		_, err := Build(load(t, unhardened(t)), Options{Certs: "sometimes"})
		if err == nil || !strings.Contains(err.Error(), `"sometimes"`) {
			t.Fatalf("err = %v", err)
		}
	})
}

// hardenedNode returns a root that a plan was applied to (with its secrets).
func hardenedNode(t *testing.T) string {
	t.Helper()
	root := unhardened(t)
	r := build(t, root, Options{})
	if _, err := r.Plan.Apply(plan.ApplyOptions{BackupRoot: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestHardenedNodeNothingToChange(t *testing.T) {
	root := hardenedNode(t)
	r := build(t, root, Options{})
	if !r.Plan.Empty() {
		t.Fatalf("changes:\n%s", r.Plan.Patch())
	}
	if r.Encryption.Action != encryption.ActionKept {
		t.Errorf("encryption action %s", r.Encryption.Action)
	}
	out := filepath.Join(t.TempDir(), "plan")
	must(t, WriteOut(out, r, WriteOptions{}))
	review, _ := os.ReadFile(filepath.Join(out, ReviewFile))
	if !strings.Contains(string(review), "Nothing to change") {
		t.Errorf("REVIEW.md:\n%s", review)
	}
	p, err := ReadOut(out, root)
	must(t, err)
	if !p.Empty() {
		t.Error("ReadOut of an empty plan is not empty")
	}
}

func TestRotate(t *testing.T) {
	root := hardenedNode(t)
	r := build(t, root, Options{Rotate: true, KeyName: "key-2"})
	if r.Encryption.Action != encryption.ActionRotated || len(r.Plan.Changes) != 1 || !r.Plan.Changes[0].Secret {
		t.Fatalf("rotation plans %d changes, action %s", len(r.Plan.Changes), r.Encryption.Action)
	}
	out := filepath.Join(t.TempDir(), "plan")
	must(t, WriteOut(out, r, WriteOptions{}))
	patch, _ := os.ReadFile(filepath.Join(out, PatchFile))
	if bytes.Contains(patch, []byte(r.Encryption.Key.Reveal())) || bytes.Contains(patch, []byte("diff --git")) {
		t.Errorf("patch of a rotation:\n%s", patch)
	}
	if _, err := ReadOut(out, root); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkBuild(b *testing.B) {
	root := unhardened(b)
	s := load(b, root)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Build(s, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
