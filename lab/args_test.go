package lab

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

const argsManifest = `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --data-dir=/var/lib/etcd
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --key-file=/srv/not-mounted/server.key
    - --experimental-initial-corrupt-check=true
    - --experimental-compact-hash-check-enabled
    - --experimental-watch-progress-notify-interval=5s
    - --feature-gates=LeaseCheckpoint=true
    - --client-cert-auth
    - --listen-client-urls=%s
    image: registry.k8s.io/etcd:3.5.16-0
    name: etcd
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
    name: etcd-certs
  - hostPath:
      path: /data/etcd
    name: etcd-data
`

func parse(t *testing.T, root, listen string) *discover.Manifest {
	t.Helper()
	m, err := discover.ParseManifest(root, filepath.Join(root, EtcdManifest), []byte(strings.Replace(argsManifest, "%s", listen, 1)), discover.EtcdBinary)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEtcdArgs(t *testing.T) {
	root := t.TempDir()
	args, notes := etcdArgs(parse(t, root, "http://127.0.0.1:2379"), root)
	want := []string{
		"--data-dir=" + filepath.Join(root, "data", "etcd"),
		"--cert-file=" + filepath.Join(root, "etc", "kubernetes", "pki", "etcd", "server.crt"),
		"--key-file=" + filepath.Join(root, containerFSDir, "srv", "not-mounted", "server.key"),
		"--watch-progress-notify-interval=5s",
		"--feature-gates=LeaseCheckpoint=true,InitialCorruptCheck=true,CompactHashCheck=true",
		"--client-cert-auth",
		"--listen-client-urls=http://127.0.0.1:2379",
	}
	if strings.Join(args, "\n") != strings.Join(want, "\n") {
		t.Errorf("args:\n%s\nwant:\n%s", strings.Join(args, "\n"), strings.Join(want, "\n"))
	}
	joined := strings.Join(notes, "\n")
	for _, s := range []string{"--key-file=/srv/not-mounted/server.key is not under any hostPath volume", "--feature-gates=InitialCorruptCheck=true", "gets --watch-progress-notify-interval"} {
		if !strings.Contains(joined, s) {
			t.Errorf("notes lack %q:\n%s", s, joined)
		}
	}
}

func TestClientURL(t *testing.T) {
	root := t.TempDir()
	for listen, want := range map[string]string{
		"https://10.0.0.10:2379,https://127.0.0.1:2379": "https://127.0.0.1:2379",
		"http://0.0.0.0:2379":                           "http://127.0.0.1:2379",
		"https://localhost:2379":                        "https://localhost:2379",
		"https://10.0.0.10:2379":                        "https://10.0.0.10:2379",
	} {
		if got := clientURL(parse(t, root, listen)); got != want {
			t.Errorf("clientURL(%s) = %s, want %s", listen, got, want)
		}
	}
}

func TestTail(t *testing.T) {
	tl := newTail(3)
	tl.Write([]byte("a\nb\r\nc\nd"))
	tl.Write([]byte("e\nf"))
	if got := strings.Join(tl.last(10), ","); got != "b,c,de,f" {
		t.Errorf("last = %s", got)
	}
	if got := strings.Join(tl.last(2), ","); got != "de,f" {
		t.Errorf("last(2) = %s", got)
	}
}
