package discover

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// manifests is the shared kubeadm-like pair folder at the repository's top.
var manifests = filepath.Join("..", "..", "testdata", "manifests")

// corpus is the shared real-world corpus beside the repository.
var corpus = filepath.Join("..", "..", "..", "shared", "corpus")

func TestDefaults(t *testing.T) {
	tests := []struct {
		root, mdir, pki string
		want            Layout
	}{
		{"", "", "", Layout{"/", "/etc/kubernetes/manifests", "/etc/kubernetes/pki/etcd"}},
		{"/tmp/r/", "", "", Layout{"/tmp/r", "/tmp/r/etc/kubernetes/manifests", "/tmp/r/etc/kubernetes/pki/etcd"}},
		{"/tmp/r", "/srv/m", "/srv/pki", Layout{"/tmp/r", "/srv/m", "/srv/pki"}},
	}
	for _, tt := range tests {
		if got := Defaults(tt.root, tt.mdir, tt.pki); got != tt.want {
			t.Errorf("Defaults(%q, %q, %q) = %+v, want %+v", tt.root, tt.mdir, tt.pki, got, tt.want)
		}
	}
}

func TestLayoutRelHost(t *testing.T) {
	l := Layout{Root: "/tmp/r"}
	if got := l.Rel("/tmp/r/etc/kubernetes/manifests/etcd.yaml"); got != "etc/kubernetes/manifests/etcd.yaml" {
		t.Errorf("Rel = %q", got)
	}
	if got := l.Rel("/elsewhere/x"); got != "/elsewhere/x" {
		t.Errorf("Rel outside root = %q", got)
	}
	if got := (Layout{Root: "/"}).Rel("/etc/x"); got != "etc/x" {
		t.Errorf("Rel under / = %q", got)
	}
	if got := l.Host("/var/lib/etcd"); got != "/tmp/r/var/lib/etcd" {
		t.Errorf("Host = %q", got)
	}
	if got := l.Host("../../x"); got != "/tmp/r/x" {
		t.Errorf("Host does not stay under root: %q", got)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name  string
		items []string
		want  []Flag
	}{
		{"equals", []string{"--cert-file=/a"}, []Flag{{Name: "cert-file", Value: "/a", HasValue: true, Dashes: 2}}},
		{"separate", []string{"--cert-file", "/a", "--x=1"}, []Flag{
			{Name: "cert-file", Value: "/a", HasValue: true, Separate: true, Dashes: 2},
			{Name: "x", Value: "1", HasValue: true, Index: 2, Dashes: 2}}},
		{"bare bool then flag", []string{"--client-cert-auth", "--x=1"}, []Flag{
			{Name: "client-cert-auth", Dashes: 2},
			{Name: "x", Value: "1", HasValue: true, Index: 1, Dashes: 2}}},
		{"bare bool last", []string{"--allow-privileged"}, []Flag{{Name: "allow-privileged", Dashes: 2}}},
		{"single dash", []string{"-name=a", "-data-dir", "/d"}, []Flag{
			{Name: "name", Value: "a", HasValue: true, Dashes: 1},
			{Name: "data-dir", Value: "/d", HasValue: true, Separate: true, Index: 1, Dashes: 1}}},
		{"empty value", []string{"--x="}, []Flag{{Name: "x", HasValue: true, Dashes: 2}}},
		{"value with equals", []string{"--initial-cluster=a=https://x:2380,b=https://y:2380"}, []Flag{
			{Name: "initial-cluster", Value: "a=https://x:2380,b=https://y:2380", HasValue: true, Dashes: 2}}},
		{"skips non-flags", []string{"etcd", "-", "---x", "--=y", "--a=1"}, []Flag{
			{Name: "a", Value: "1", HasValue: true, Index: 4, Dashes: 2}}},
		{"double dash ends", []string{"--a=1", "--", "--b=2"}, []Flag{{Name: "a", Value: "1", HasValue: true, Dashes: 2}}},
		{"nil", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ParseFlags(tt.items); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseFlags(%q)\n got %+v\nwant %+v", tt.items, got, tt.want)
			}
		})
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifests, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseManifestKubeadm(t *testing.T) {
	tests := []struct {
		file, binary string
		flags        map[string]string // flag → want value ("-" means absent)
		tag          string
	}{
		{"unhardened/etcd.yaml", EtcdBinary, map[string]string{
			"listen-client-urls": "http://127.0.0.1:2379", "data-dir": "/var/lib/etcd", "cert-file": "-", "client-cert-auth": "-",
		}, "3.5.15-0"},
		{"hardened/etcd.yaml", EtcdBinary, map[string]string{
			"cert-file": "/etc/kubernetes/pki/etcd/server.crt", "--client-cert-auth": "true", "trusted-ca-file": "/etc/kubernetes/pki/etcd/ca.crt",
		}, "3.5.15-0"},
		{"unhardened/kube-apiserver.yaml", APIServerBinary, map[string]string{
			"etcd-servers": "http://127.0.0.1:2379", "encryption-provider-config": "-", "client-ca-file": "/etc/kubernetes/pki/ca.crt",
		}, "v1.31.4"},
		{"hardened/kube-apiserver.yaml", APIServerBinary, map[string]string{
			"encryption-provider-config": "/etc/kubernetes/enc/encryption-config.yaml", "etcd-certfile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
		}, "v1.31.4"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := "/r/etc/kubernetes/manifests/" + filepath.Base(tt.file)
			m, err := ParseManifest("/r", path, readTestdata(t, tt.file), tt.binary)
			if err != nil {
				t.Fatal(err)
			}
			if m.Container != tt.binary || m.ImageTag != tt.tag || m.RelPath != "etc/kubernetes/manifests/"+filepath.Base(tt.file) {
				t.Errorf("container %q tag %q rel %q", m.Container, m.ImageTag, m.RelPath)
			}
			if len(m.Warnings) != 0 {
				t.Errorf("warnings: %v", m.Warnings)
			}
			for name, want := range tt.flags {
				got, ok := m.Flag(name)
				if want == "-" {
					if ok {
						t.Errorf("flag %s = %q, want absent", name, got)
					}
					continue
				}
				if !ok || got != want {
					t.Errorf("flag %s = %q, %v; want %q", name, got, ok, want)
				}
			}
			for _, f := range m.Flags {
				if f.List != "command" || m.Pod.Spec.Containers[0].Command[f.Index] == "" {
					t.Errorf("flag %+v: bad position", f)
				}
			}
		})
	}
}

func TestFlagLastWinsAndArgs(t *testing.T) {
	y := `apiVersion: v1
kind: Pod
metadata: {name: etcd}
spec:
  containers:
  - name: etcd
    image: registry.k8s.io/etcd:3.5.15-0@sha256:abc
    command: [/usr/local/bin/etcd, --data-dir=/a, --auto-tls]
    args: ['--data-dir=/b', "--name", 'n1', -peer-auto-tls=false]
`
	m, err := ParseManifest("/", "/etc/kubernetes/manifests/etcd.yaml", []byte(y), EtcdBinary)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Flag("data-dir"); v != "/b" {
		t.Errorf("data-dir = %q, want the last one /b", v)
	}
	if n := m.FlagCount("--data-dir"); n != 2 {
		t.Errorf("FlagCount = %d", n)
	}
	if v, ok := m.Flag("auto-tls"); !ok || v != "" || m.Lookup("auto-tls").HasValue {
		t.Errorf("bare auto-tls = %q %v", v, ok)
	}
	f := m.Lookup("name")
	if f == nil || f.List != "args" || f.Index != 1 || !f.Separate || f.Value != "n1" {
		t.Errorf("name flag = %+v", f)
	}
	if v, _ := m.Flag("peer-auto-tls"); v != "false" {
		t.Errorf("single-dash flag = %q", v)
	}
	if m.ImageTag != "3.5.15-0" {
		t.Errorf("tag with digest = %q", m.ImageTag)
	}
	if m.FlagCount("nope") != 0 {
		t.Error("FlagCount of absent flag")
	}
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"registry.k8s.io/etcd:3.5.12-0":           "3.5.12-0",
		"localhost:5000/etcd":                     "",
		"localhost:5000/etcd:v3.6.0":              "v3.6.0",
		"etcd@sha256:0123":                        "",
		"quay.io/coreos/etcd:v3.5.9@sha256:0123":  "v3.5.9",
		"index.docker.io/rancher/hardened-etcd:v": "v",
		"": "",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestFindContainer(t *testing.T) {
	tests := []struct {
		name, containers string
		want             string // container name, or an error kind's text
		kind             error
	}{
		{"sidecar first", `
  - name: etcdctl
    image: x
    command: [/bin/bash, -c, "trap TERM INT; sleep infinity & wait"]
  - name: etcd
    image: x
    command: [etcd, --name=a]`, "etcd", nil},
		{"by command not name", `
  - name: etcd
    image: x
    command: [etcd-metrics-proxy, --x=1]
  - name: server
    image: x
    command: [/usr/local/bin/etcd, --name=a]`, "server", nil},
		{"by args", `
  - name: main
    image: x
    args: [etcd, --name=a]`, "main", nil},
		{"by name, entrypoint from image", `
  - name: etcd
    image: x
    args: [--name=a]`, "etcd", nil},
		{"shell script", `
  - name: etcd
    image: x
    command: [/bin/sh, -c]
    args:
    - |
      exec etcd \
        --name=a`, "", ErrShellScript},
		{"no etcd", `
  - name: nginx
    image: x`, "", ErrNoContainer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:" + tt.containers + "\n"
			m, err := ParseManifest("/", "/m/etcd.yaml", []byte(y), EtcdBinary)
			if tt.kind != nil {
				if !errors.Is(err, tt.kind) {
					t.Fatalf("err = %v, want %v", err, tt.kind)
				}
				if !strings.HasPrefix(err.Error(), "/m/etcd.yaml: ") {
					t.Errorf("error does not start with the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Container != tt.want {
				t.Errorf("container = %q, want %q", m.Container, tt.want)
			}
			if v, _ := m.Flag("name"); v != "a" {
				t.Errorf("flags = %+v", m.Flags)
			}
		})
	}
}

func TestParseManifestErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		kind       error
		msg        []string
	}{
		{"template", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Name }}\n", ErrTemplate,
			[]string{"/m/etcd.yaml:4: ", "looks like a Go template", "render it first"}},
		{"mangled", "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n     image: x\n", ErrInvalidYAML,
			[]string{"/m/etcd.yaml:6: ", "not valid YAML"}},
		{"not a pod", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: etcd}\n", ErrNotPod,
			[]string{"/m/etcd.yaml:2: ", "not a Pod (kind: Deployment)"}},
		{"no kind", "foo: bar\n", ErrNotPod, []string{"not a Pod (kind: none)"}},
		{"empty", "\n  \n", ErrNotPod, []string{"/m/etcd.yaml: file is empty"}},
		{"elided", "apiVersion: v1\nkind: Pod\nspec:\n...\n    - mountPath: /x\n      name: y\n", ErrElided,
			[]string{"/m/etcd.yaml:4: ", "elided snippet"}},
		{"no containers", "apiVersion: v1\nkind: Pod\nspec:\n  hostNetwork: true\n", ErrNoContainer,
			[]string{"no containers"}},
		{"volume without name", `apiVersion: v1
kind: Pod
spec:
  containers:
  - name: etcd
    command: [etcd]
  volumes:
  - hostPath: {path: /var/lib/etcd}
`, ErrInvalidPod, []string{"volume #1 (hostPath volume /var/lib/etcd) has no name"}},
		{"mount of no volume", `apiVersion: v1
kind: Pod
spec:
  containers:
  - name: etcd
    command: [etcd]
    volumeMounts: [{name: data, mountPath: /var/lib/etcd}]
`, ErrInvalidPod, []string{`mounts volume "data" at /var/lib/etcd, but the Pod has no volume of that name`}},
		{"duplicate volumes", `apiVersion: v1
kind: Pod
spec:
  containers: [{name: etcd, command: [etcd]}]
  volumes: [{name: a, emptyDir: {}}, {name: a, emptyDir: {}}]
`, ErrInvalidPod, []string{`two volumes are named "a"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseManifest("/", "/m/etcd.yaml", []byte(tt.yaml), EtcdBinary)
			if m != nil || !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, %v; want kind %v", m, err, tt.kind)
			}
			for _, s := range tt.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

func TestUnknownFieldWarning(t *testing.T) {
	y := `apiVersion: v1
kind: Pod
spec:
  containers:
  - name: etcd
    command: [etcd]
    volumeMounts: [{name: d, mountPath: /d, readOlny: true}]
  volumes: [{name: d, hostPath: {path: /d}}]
`
	m, err := ParseManifest("/", "/m/etcd.yaml", []byte(y), EtcdBinary)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], `unknown field "readOlny"`) {
		t.Errorf("warnings = %q", m.Warnings)
	}
}

func TestHostPath(t *testing.T) {
	y := `apiVersion: v1
kind: Pod
spec:
  containers:
  - name: kube-apiserver
    command: [kube-apiserver]
    volumeMounts:
    - {name: k8s, mountPath: /etc/kubernetes/}
    - {name: pki, mountPath: /etc/kubernetes/pki}
    - {name: enc, mountPath: /etc/kubernetes/enc/config.yaml, subPath: enc.yaml}
    - {name: tmp, mountPath: /tmp}
    - {name: root, mountPath: /host}
  volumes:
  - {name: k8s, hostPath: {path: /etc/kubernetes}}
  - {name: pki, hostPath: {path: /srv/pki}}
  - {name: enc, hostPath: {path: /srv/enc}}
  - {name: tmp, emptyDir: {}}
  - {name: root, hostPath: {path: /}}
`
	m, err := ParseManifest("/r", "/r/m/kube-apiserver.yaml", []byte(y), APIServerBinary)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/etc/kubernetes/admin.conf", "/r/etc/kubernetes/admin.conf", true},
		{"/etc/kubernetes/pki/ca.crt", "/r/srv/pki/ca.crt", true}, // longest mount wins
		{"/etc/kubernetes/pki", "/r/srv/pki", true},
		{"/etc/kubernetes/pki/../x", "/r/etc/kubernetes/x", true},
		{"/etc/kubernetes/pkiX/a", "/r/etc/kubernetes/pkiX/a", true}, // not under /etc/kubernetes/pki
		{"/etc/kubernetes/enc/config.yaml", "/r/srv/enc/enc.yaml", true},
		{"/host/var/lib/etcd", "/r/var/lib/etcd", true},
		{"/tmp/x", "", false},     // emptyDir shadows
		{"/var/lib/x", "", false}, // no mount
		{"relative/x", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, ok := m.HostPath(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("HostPath(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	s := &State{Layout: Layout{Root: "/r"}}
	if got := s.HostFile(m, "/var/lib/x"); got != "/r/var/lib/x" {
		t.Errorf("HostFile fallback = %q", got)
	}
	if got := s.HostFile(m, "/etc/kubernetes/pki/ca.crt"); got != "/r/srv/pki/ca.crt" {
		t.Errorf("HostFile = %q", got)
	}
	if v, host, ok, mapped := m.FlagPath("nope"); ok || mapped || v != "" || host != "" {
		t.Error("FlagPath of absent flag")
	}
}

// writeTree lays out <root>/etc/kubernetes/manifests with the named testdata files.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, src := range files {
		data := []byte(src)
		if !strings.Contains(src, "\n") {
			data = readTestdata(t, src)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestLoad(t *testing.T) {
	root := writeTree(t, map[string]string{EtcdFile: "hardened/etcd.yaml", APIServerFile: "hardened/kube-apiserver.yaml"})
	s, err := Load(Layout{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if s.Etcd == nil || s.APIServer == nil || s.EtcdVersion != "3.5.15-0" {
		t.Fatalf("state = %+v", s)
	}
	if s.Layout.PKIDir != filepath.Join(root, "etc/kubernetes/pki/etcd") {
		t.Errorf("layout = %+v", s.Layout)
	}
	if s.Etcd.RelPath != "etc/kubernetes/manifests/etcd.yaml" {
		t.Errorf("RelPath = %q", s.Etcd.RelPath)
	}
	if got := s.HostFile(s.Etcd, "/var/lib/etcd"); got != filepath.Join(root, "var/lib/etcd") {
		t.Errorf("data dir on host = %q", got)
	}
	_, host, _, mapped := s.APIServer.FlagPath("encryption-provider-config")
	if !mapped || host != filepath.Join(root, "etc/kubernetes/enc/encryption-config.yaml") {
		t.Errorf("encryption config on host = %q %v", host, mapped)
	}
}

func TestLoadNoAPIServer(t *testing.T) {
	root := writeTree(t, map[string]string{EtcdFile: "unhardened/etcd.yaml"})
	s, err := Load(Layout{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if s.APIServer != nil || s.Etcd == nil {
		t.Errorf("state = %+v", s)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Run("no etcd.yaml", func(t *testing.T) {
		root := writeTree(t, map[string]string{APIServerFile: "hardened/kube-apiserver.yaml"})
		_, err := Load(Layout{Root: root})
		if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, ErrMissing) {
			t.Fatalf("err = %v", err)
		}
		for _, s := range []string{"etcd.yaml not found in " + filepath.Join(root, "etc/kubernetes/manifests"), "--manifests-dir"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%q does not contain %q", err, s)
			}
		}
	})
	t.Run("broken kube-apiserver.yaml", func(t *testing.T) {
		root := writeTree(t, map[string]string{EtcdFile: "hardened/etcd.yaml", APIServerFile: "kind: Pod\nspec: {containers: [{name: x}]}\n"})
		_, err := Load(Layout{Root: root})
		want := filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml") + ": no container runs kube-apiserver"
		if !errors.Is(err, ErrNoContainer) || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unreadable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root reads everything")
		}
		root := writeTree(t, map[string]string{EtcdFile: "hardened/etcd.yaml"})
		p := filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml")
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(Layout{Root: root}); !errors.Is(err, ErrUnreadable) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestCorpus parses every real manifest in the shared corpus; the known-bad ones must
// fail with a ParseError that names the file and the problem.
func TestCorpus(t *testing.T) {
	fail := map[string]error{
		"etcd/openshift-cluster-etcd-operator__bootstrap-gotemplate-two-containers-shell-flags.yaml": ErrTemplate,
		"etcd/eugenpro-cka__elided-snippet-inline-comment-no-eol.yaml":                               ErrElided,
		"apiserver/mstelles-cks__kubeadm-1.21-encryption-broken-volume.yaml":                         ErrInvalidPod,
	}
	for _, dir := range []string{"etcd", "apiserver"} {
		binary := EtcdBinary
		if dir == "apiserver" {
			binary = APIServerBinary
		}
		files, _ := filepath.Glob(filepath.Join(corpus, dir, "*.yaml"))
		if len(files) == 0 {
			t.Skipf("no corpus at %s", corpus)
		}
		for _, f := range files {
			key := dir + "/" + filepath.Base(f)
			t.Run(key, func(t *testing.T) {
				data, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				m, err := ParseManifest("/", f, data, binary)
				if kind, bad := fail[key]; bad {
					var pe *ParseError
					if !errors.Is(err, kind) || !errors.As(err, &pe) || pe.Path != f || !strings.HasPrefix(err.Error(), f) {
						t.Fatalf("err = %v, want %v naming the file", err, kind)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if m.Container == "" || len(m.Flags) == 0 {
					t.Errorf("container %q, %d flags", m.Container, len(m.Flags))
				}
				if binary == EtcdBinary && m.ImageTag == "" {
					t.Error("no etcd image tag")
				}
			})
		}
	}
}

// TestCorpusShellScript strips the template parts of the OpenShift manifest so that the
// shell-script case is reached on a real file.
func TestCorpusShellScript(t *testing.T) {
	f := filepath.Join(corpus, "etcd", "openshift-cluster-etcd-operator__bootstrap-gotemplate-two-containers-shell-flags.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Skip(err)
	}
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "{{") {
			continue
		}
		for strings.Contains(l, "{{") {
			i, j := strings.Index(l, "{{"), strings.Index(l, "}}")
			l = l[:i] + "x" + l[j+2:]
		}
		lines = append(lines, l)
	}
	_, err = ParseManifest("/", f, []byte(strings.Join(lines, "\n")), EtcdBinary)
	if !errors.Is(err, ErrShellScript) || !strings.Contains(err.Error(), `container "etcd" runs etcd from a shell script (/bin/sh -c); etcd-harden can't edit shell scripts`) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseFlags(f *testing.F) {
	f.Add("--a=1\x00--b\x002\x00-c\x00--\x00--d")
	f.Fuzz(func(t *testing.T, s string) {
		items := strings.Split(s, "\x00")
		for _, fl := range ParseFlags(items) {
			if fl.Name == "" || fl.Index < 0 || fl.Index >= len(items) || !strings.HasPrefix(items[fl.Index], "-") {
				t.Fatalf("bad flag %+v from %q", fl, items)
			}
			if fl.Separate && (fl.Index+1 >= len(items) || items[fl.Index+1] != fl.Value) {
				t.Fatalf("bad separate flag %+v from %q", fl, items)
			}
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	for _, n := range []string{"unhardened/etcd.yaml", "hardened/kube-apiserver.yaml"} {
		if b, err := os.ReadFile(filepath.Join(manifests, n)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("kind: Pod\nspec:\n...\n  x: 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, bin := range []string{EtcdBinary, APIServerBinary} {
			m, err := ParseManifest("/r", "/r/m.yaml", data, bin)
			if (m == nil) == (err == nil) {
				t.Fatalf("m=%v err=%v", m, err)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "/r/m.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if m != nil {
				m.HostPath("/etc/kubernetes/pki/x")
				m.Flag("data-dir")
			}
		}
	})
}

// TestCheckFolder: a folder flag that points at a file says what it is and what is
// expected, not "check permissions".
func TestCheckFolder(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, EtcdFile)
	if err := os.WriteFile(file, []byte("kind: Pod\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		f    Folder
		path string
		want string
	}{
		{ManifestsFolder, file, "--manifests-dir " + file + " is a file; expected the folder that holds etcd.yaml, e.g. /etc/kubernetes/manifests (its folder " + dir + "?)"},
		{ManifestsFolder, filepath.Join(dir, "nope"), "--manifests-dir " + filepath.Join(dir, "nope") + " does not exist; expected the folder that holds etcd.yaml"},
		{PKIFolder, file, "--pki-dir " + file + " is a file; expected the folder that holds etcd's certificates, e.g. /etc/kubernetes/pki/etcd"},
		{RootFolder, file, "--root " + file + " is a file; expected the folder that holds the node's file system, e.g. / on a node"},
		{RootFolder, filepath.Join(file, "x"), "--root " + filepath.Join(file, "x") + " is not a folder (a part of the path is a file)"},
	}
	for _, tt := range tests {
		err := CheckFolder(tt.f, tt.path)
		if !errors.Is(err, ErrNotFolder) || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("CheckFolder(%s, %s) = %v\nwant prefix %q", tt.f.Flag, tt.path, err, tt.want)
		}
	}
	for _, ok := range []struct {
		f    Folder
		path string
	}{{ManifestsFolder, dir}, {PKIFolder, filepath.Join(dir, "new")}} {
		if err := CheckFolder(ok.f, ok.path); err != nil {
			t.Errorf("CheckFolder(%s, %s) = %v", ok.f.Flag, ok.path, err)
		}
	}
}

// TestReadManifestNotAFile: etcd.yaml that is a folder, or a manifests path through
// a file, is named as such.
func TestReadManifestNotAFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, EtcdFile), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Load(Layout{Root: dir, ManifestsDir: dir})
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "etcd.yaml: is a folder; expected the static pod manifest of etcd, a file") || strings.Contains(err.Error(), "permissions") {
		t.Errorf("etcd.yaml folder: %v", err)
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(Layout{Root: dir, ManifestsDir: file})
	if !strings.Contains(err.Error(), file+" is a file, not a folder; expected the folder that holds etcd.yaml") || strings.Contains(err.Error(), "permissions") {
		t.Errorf("manifests path through a file: %v", err)
	}
}
