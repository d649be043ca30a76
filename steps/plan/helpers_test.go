package plan

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// etcdYAML and apiserverYAML are shortened kubeadm manifests.
const etcdYAML = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.10:2379
    - --data-dir=/var/lib/etcd
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.10:2379
    - --name=node1
    image: registry.k8s.io/etcd:3.5.15-0
    name: etcd
  hostNetwork: true
`

const apiserverYAML = `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.0.10
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --etcd-servers=https://127.0.0.1:2379
    - --secure-port=6443
    image: registry.k8s.io/kube-apiserver:v1.31.0
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
`

const (
	etcdPath      = "etc/kubernetes/manifests/etcd.yaml"
	apiserverPath = "etc/kubernetes/manifests/kube-apiserver.yaml"
	encPath       = "etc/kubernetes/enc/encryption-config.yaml"
)

// secretKey is what the tests look for in patches: it must never appear.
const secretKey = "c2VjcmV0LWtleS1ieXRlcy10aGF0LW11c3Qtbm90LWxlYWs="

// seed writes the files of a small control-plane root and returns errors so that the
// crash test's child process can use it too.
func seed(root string) error {
	files := []struct {
		path string
		data string
		mode fs.FileMode
	}{
		{etcdPath, etcdYAML, 0o600},
		{apiserverPath, apiserverYAML, 0o640},
		{"etc/kubernetes/pki/etcd/ca.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", 0o644},
	}
	for _, f := range files {
		p := filepath.Join(root, filepath.FromSlash(f.path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			return err
		}
		if err := os.Chmod(p, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// seeded returns a fresh root holding the seed files.
func seeded(t testing.TB) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "root")
	if err := seed(root); err != nil {
		t.Fatal(err)
	}
	return root
}

// insertAfter returns an edit that adds line after the first line equal to anchor.
func insertAfter(anchor, line string) func([]byte) ([]byte, error) {
	return func(old []byte) ([]byte, error) {
		return bytes.Replace(old, []byte(anchor+"\n"), []byte(anchor+"\n"+line+"\n"), 1), nil
	}
}

// fullPlan plans what the wizard does: an encryption config (secret, new folder),
// a flag in each manifest, two edits to kube-apiserver.yaml, and a new public file.
func fullPlan(root string) (*Plan, error) {
	p := New(root)
	enc := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n      - name: key1\n        secret: " + secretKey + "\n  - identity: {}\n"
	steps := []error{
		p.Create(encPath, []byte(enc), 0o644, 0o700, true, "encryption: new key"),
		p.Edit(apiserverPath, "encryption: point kube-apiserver at the config",
			insertAfter("    - --client-ca-file=/etc/kubernetes/pki/ca.crt", "    - --encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml")),
		p.Edit(etcdPath, "certs: require client certificates",
			insertAfter("    - --data-dir=/var/lib/etcd", "    - --client-cert-auth=true")),
		p.Edit(apiserverPath, "certs: etcd client certificate",
			insertAfter("    - --etcd-servers=https://127.0.0.1:2379", "    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt")),
		p.Create("etc/etcd-harden/README", []byte("made by etcd-harden\n"), 0o644, 0o755, false, "notes"),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

func mustPlan(t testing.TB, root string) *Plan {
	t.Helper()
	p, err := fullPlan(root)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// snapshot records every regular file under root (path → content and mode).
type fileState struct {
	data string
	mode fs.FileMode
}

func snapshot(t testing.TB, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := os.Lstat(p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fileState{string(data), info.Mode()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameTree(t testing.TB, want, got map[string]fileState) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		switch {
		case !ok:
			t.Errorf("%s: missing", p)
		case g.data != w.data:
			t.Errorf("%s: content differs:\n got %q\nwant %q", p, g.data, w.data)
		case g.mode != w.mode:
			t.Errorf("%s: mode %v, want %v", p, g.mode, w.mode)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected file", p)
		}
	}
}

// copyTree copies root into a new temp folder with cp -a.
func copyTree(t testing.TB, root string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", root, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
	return dst
}

func run(t testing.TB, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CEILING_DIRECTORIES="+filepath.Dir(dir))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
