package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
)

func load(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// lineDiff returns the lines of a missing from b and the lines of b new to a,
// counted as multisets; lines keep their "\r".
func lineDiff(a, b []byte) (removed, added []string) {
	count := map[string]int{}
	for _, l := range strings.Split(string(a), "\n") {
		count[l]++
	}
	for _, l := range strings.Split(string(b), "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			added = append(added, l)
		}
	}
	for _, l := range strings.Split(string(a), "\n") {
		if count[l] > 0 {
			count[l]--
			removed = append(removed, l)
		}
	}
	return removed, added
}

func trimmed(ls []string) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		out = append(out, strings.TrimSpace(l))
	}
	slices.Sort(out)
	return out
}

var encMount = HostPathMount{Name: "etcd-encryption", HostPath: "/etc/kubernetes/enc", MountPath: "/etc/kubernetes/enc", ReadOnly: true, Type: "DirectoryOrCreate"}

var etcdTLS = map[string]string{
	"cert-file":             "/etc/kubernetes/pki/etcd/server.crt",
	"key-file":              "/etc/kubernetes/pki/etcd/server.key",
	"client-cert-auth":      "true",
	"trusted-ca-file":       "/etc/kubernetes/pki/etcd/ca.crt",
	"peer-cert-file":        "/etc/kubernetes/pki/etcd/peer.crt",
	"peer-key-file":         "/etc/kubernetes/pki/etcd/peer.key",
	"peer-client-cert-auth": "true",
	"peer-trusted-ca-file":  "/etc/kubernetes/pki/etcd/ca.crt",
}

var etcdURLFlags = []string{"advertise-client-urls", "listen-client-urls", "listen-peer-urls", "initial-advertise-peer-urls", "initial-cluster"}

func hardenEtcd(container string) func(*Editor) error {
	return func(e *Editor) error {
		if err := e.SetFlags(container, etcdTLS); err != nil {
			return err
		}
		for _, f := range etcdURLFlags {
			if _, err := e.ReplaceInFlag(container, f, "http://", "https://"); err != nil {
				return err
			}
		}
		return nil
	}
}

var apiserverEtcd = map[string]string{
	"etcd-cafile":                "/etc/kubernetes/pki/etcd/ca.crt",
	"etcd-certfile":              "/etc/kubernetes/pki/apiserver-etcd-client.crt",
	"etcd-keyfile":               "/etc/kubernetes/pki/apiserver-etcd-client.key",
	"encryption-provider-config": "/etc/kubernetes/enc/config.yaml",
}

func hardenAPIServer(container string) func(*Editor) error {
	return func(e *Editor) error {
		if err := e.SetFlags(container, apiserverEtcd); err != nil {
			return err
		}
		return e.EnsureHostPathMount(container, encMount)
	}
}

func TestEdits(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		edit    func(*Editor) error
		removed []string // original lines the edit replaces or drops (trimmed)
		added   int      // number of new lines
	}{
		{
			name: "etcd-kubeadm-already-hardened",
			file: "etcd-kubeadm.yaml",
			edit: hardenEtcd(""),
		},
		{
			name: "etcd-kubeadm-rotate-server-cert",
			file: "etcd-kubeadm.yaml",
			edit: func(e *Editor) error {
				if err := e.SetFlag("etcd", "--cert-file", "/etc/kubernetes/pki/etcd/server-2025.crt"); err != nil {
					return err
				}
				return e.SetFlag("etcd", "key-file", "/etc/kubernetes/pki/etcd/server-2025.key")
			},
			removed: []string{"- --cert-file=/etc/kubernetes/pki/etcd/server.crt", "- --key-file=/etc/kubernetes/pki/etcd/server.key"},
			added:   2,
		},
		{
			name: "etcd-kubeadm-value-needs-quotes",
			file: "etcd-kubeadm.yaml",
			edit: func(e *Editor) error {
				if err := e.SetFlag("", "data-dir", "/var/lib/etcd #2: new"); err != nil {
					return err
				}
				return e.SetFlag("", "log-outputs", "'stderr'")
			},
			removed: []string{"- --data-dir=/var/lib/etcd"},
			added:   2,
		},
		{
			name: "etcd-kubeadm-mount-reuses-volume",
			file: "etcd-kubeadm.yaml",
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "backup", HostPath: "/var/lib/etcd", MountPath: "/backup"})
			},
			added: 2,
		},
		{
			name: "etcd-kubeadm-mount-name-taken",
			file: "etcd-kubeadm.yaml",
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "etcd-data", HostPath: "/srv/etcd", MountPath: "/srv/etcd", Type: "Directory"})
			},
			added: 6,
		},
		{
			name: "etcd-kubeadm-mount-covered-by-parent",
			file: "etcd-kubeadm.yaml",
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "x", HostPath: "/etc/kubernetes/pki/etcd/new", MountPath: "/etc/kubernetes/pki/etcd/new"})
			},
		},
		{
			name: "etcd-insecure-harden",
			file: "etcd-insecure.yaml",
			edit: hardenEtcd(""),
			removed: []string{
				"- --advertise-client-urls=http://192.168.56.10:2379   # clients use this",
				"- --initial-advertise-peer-urls=http://192.168.56.10:2380",
				"- --initial-cluster=cp1=http://192.168.56.10:2380",
				"- --listen-client-urls=http://127.0.0.1:2379,http://192.168.56.10:2379",
				"- --listen-peer-urls=http://192.168.56.10:2380",
				// given twice: the bare one at the end takes effect and stays.
				"- --client-cert-auth=false",
			},
			added: 5 + 7,
		},
		{
			name:    "etcd-insecure-remove-separate-value",
			file:    "etcd-insecure.yaml",
			edit:    func(e *Editor) error { return e.RemoveFlag("", "--data-dir") },
			removed: []string{"- --data-dir", "- /var/lib/etcd"},
		},
		{
			name:    "etcd-insecure-set-separate-value",
			file:    "etcd-insecure.yaml",
			edit:    func(e *Editor) error { return e.SetFlag("", "data-dir", "/data/etcd") },
			removed: []string{"- /var/lib/etcd"},
			added:   1,
		},
		{
			name: "etcd-insecure-mount-last-line-no-eol",
			file: "etcd-insecure.yaml",
			edit: func(e *Editor) error { return e.EnsureHostPathMount("etcd", encMount) },
			// the last line gains a line break (not seen by lineDiff).
			added: 3 + 4,
		},
		{
			name:  "etcd-args-new-flags-and-lists",
			file:  "etcd-args.yaml",
			edit:  func(e *Editor) error { return errors.Join(hardenEtcd("")(e), e.EnsureHostPathMount("", encMount)) },
			added: 8 + 9,
		},
		{
			name:    "etcd-args-remove-all",
			file:    "etcd-args.yaml",
			edit:    func(e *Editor) error { return errors.Join(e.RemoveFlag("", "data-dir"), e.RemoveFlag("", "name")) },
			removed: []string{"args:", "- '--data-dir=/var/lib/etcd'", "- '--name=rke2-server'"},
			added:   1,
		},
		{
			name:  "apiserver-kubeadm-encryption",
			file:  "apiserver-kubeadm.yaml",
			edit:  hardenAPIServer("kube-apiserver"),
			added: 1 + 3 + 4,
		},
		{
			name: "apiserver-folded-crlf-set",
			file: "apiserver-4space-folded-crlf.yaml",
			edit: func(e *Editor) error {
				return errors.Join(
					e.SetFlag("", "enable-admission-plugins", "NodeRestriction"),
					e.SetFlag("", "etcd-cafile", "/etc/kubernetes/pki/etcd/ca.crt"),
					e.SetFlag("", "advertise-address", "10.0.0.1"),
					e.SetFlag("", "authorization-mode", "Node,RBAC,Webhook"),
					e.SetFlag("", "etcd-servers", "https://10.0.0.1:2379"),
					e.SetFlag("", "secure-port", "7443"),
					hardenAPIServer("")(e),
				)
			},
			removed: []string{
				"--enable-admission-plugins=NodeRestriction,NamespaceLifecycle,ServiceAccount\r",
				"- '--advertise-address=192.168.56.10'\r",
				"- \"--authorization-mode=Node,RBAC\"\r",
				"- '--etcd-servers=https://127.0.0.1:2379'   \r",
				"- '--secure-port=6443'  # keep\r",
			},
			added: 5 + 3 + 3 + 4,
		},
		{
			name:    "apiserver-folded-crlf-remove-folded",
			file:    "apiserver-4space-folded-crlf.yaml",
			edit:    func(e *Editor) error { return e.RemoveFlag("", "etcd-cafile") },
			removed: []string{"- >-\r", "--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt\r"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := load(t, tc.file)
			e, err := NewEditor(tc.file, in)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(e); err != nil {
				t.Fatal(err)
			}
			out := e.Bytes()
			golden.RequireEqual(t, out)

			removed, added := lineDiff(in, out)
			if got, want := trimmed(removed), trimmed(tc.removed); !slices.Equal(got, want) {
				t.Errorf("removed lines:\n%q\nwant:\n%q", got, want)
			}
			if len(added) != tc.added {
				t.Errorf("added %d lines, want %d:\n%s", len(added), tc.added, strings.Join(added, "\n"))
			}
			if bytes.HasSuffix(in, []byte("\n")) != bytes.HasSuffix(out, []byte("\n")) {
				t.Error("final line break changed")
			}
			if bytes.Contains(in, []byte("\r\n")) && bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) {
				t.Error("CRLF file got LF-only lines")
			}

			again, err := NewEditor(tc.file, out)
			if err != nil {
				t.Fatalf("output does not parse: %v", err)
			}
			if err := tc.edit(again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), out) {
				removed, added := lineDiff(out, again.Bytes())
				t.Errorf("second run changed the file: -%q +%q", removed, added)
			}
		})
	}
}

func TestFlag(t *testing.T) {
	e, err := NewEditor("etcd.yaml", load(t, "etcd-insecure.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		flag, want string
		ok         bool
	}{
		{"data-dir", "/var/lib/etcd", true},
		{"--name", "cp1", true},
		{"client-cert-auth", "true", true}, // given twice: the last takes effect
		{"advertise-client-urls", "http://192.168.56.10:2379", true},
		{"cert-file", "", false},
		{"", "", false},
	} {
		got, ok := e.Flag("", tc.flag)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Flag(%q) = %q, %v; want %q, %v", tc.flag, got, ok, tc.want, tc.ok)
		}
	}
	if _, ok := e.Flag("nope", "name"); ok {
		t.Error("Flag on a missing container reported ok")
	}
	argv, err := e.Argv("etcd")
	if err != nil {
		t.Fatal(err)
	}
	if argv[0] != "etcd" || argv[len(argv)-1] != "--client-cert-auth" || len(argv) != 13 {
		t.Errorf("Argv = %q", argv)
	}

	f, err := NewEditor("a.yaml", load(t, "apiserver-4space-folded-crlf.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Flag("", "etcd-cafile"); v != "/etc/kubernetes/pki/etcd/ca.crt" {
		t.Errorf("folded flag = %q", v)
	}
}

func TestErrors(t *testing.T) {
	const flow = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command: [\"etcd\", \"--cert-file=/a\"]\n"
	const shell = "kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - /bin/sh\n    - -c\n    - exec etcd --cert-file=/a\n"
	const tagged = "kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - !!str --cert-file=/a\n"
	etcd := string(load(t, "etcd-kubeadm.yaml"))
	tests := []struct {
		name   string
		src    string
		edit   func(*Editor) error // nil: NewEditor must fail
		target error
		msg    string
	}{
		{name: "not yaml", src: "kind: Pod\nspec: [\n", target: ErrInvalidManifest, msg: "etcd.yaml: not a static pod manifest: yaml: line"},
		{name: "go template", src: "kind: Pod\nmetadata:\n{{- if .X }}\n  name: a\n{{- end }}\n", target: ErrInvalidManifest, msg: "fix the YAML or restore the file from a backup"},
		{name: "empty", src: "", target: ErrInvalidManifest, msg: "etcd.yaml: the file is empty"},
		{name: "two documents", src: etcd + "---\n" + etcd, target: ErrInvalidManifest, msg: "more than one YAML document"},
		{name: "elided", src: "kind: Pod\nspec:\n...\n    - mountPath: /x\n", target: ErrInvalidManifest, msg: "etcd.yaml"},
		{name: "deployment", src: "kind: Deployment\nspec:\n  containers:\n  - name: a\n", target: ErrInvalidManifest, msg: `kind is "Deployment", not Pod`},
		{name: "no containers", src: "kind: Pod\nspec:\n  hostNetwork: true\n", target: ErrInvalidManifest, msg: "spec.containers is missing or empty"},
		{name: "scalar top", src: "just text\n", target: ErrInvalidManifest, msg: "top level is not a mapping"},
		{name: "duplicate keys", src: "kind: Pod\nkind: Pod\nspec:\n  containers:\n  - name: a\n", target: ErrInvalidManifest, msg: "already defined"},
		{
			name: "flow command", src: flow, target: ErrUnsupportedLayout,
			edit: func(e *Editor) error { return e.SetFlag("", "cert-file", "/b") },
			msg:  `etcd.yaml: container "etcd": set --cert-file: command: line 6: a flow-style list ([...]) is not edited`,
		},
		{
			name: "flow command add", src: flow, target: ErrUnsupportedLayout,
			edit: func(e *Editor) error { return e.SetFlag("", "key-file", "/b") },
			msg:  "command is written in a form this tool does not edit",
		},
		{
			name: "shell script", src: shell, target: ErrUnsupportedLayout,
			edit: func(e *Editor) error { return e.SetFlag("etcd", "cert-file", "/b") },
			msg:  "it runs /bin/sh, so its flags are inside a shell script",
		},
		{
			name: "tagged item", src: tagged, target: ErrUnsupportedLayout,
			edit: func(e *Editor) error { return e.SetFlag("", "cert-file", "/b") },
			msg:  "tags and anchors are not edited",
		},
		{
			name: "no such container", src: etcd, target: ErrContainerNotFound,
			edit: func(e *Editor) error { return e.SetFlag("kube-apiserver", "cert-file", "/b") },
			msg:  `etcd.yaml: container not found: no container named "kube-apiserver" (it has etcd)`,
		},
		{
			name: "bad flag name", src: etcd, target: ErrInvalidArgument,
			edit: func(e *Editor) error { return e.SetFlag("", "cert-file=/x", "/b") },
			msg:  `etcd.yaml: invalid argument: "cert-file=/x" is not a flag name`,
		},
		{
			name: "bad remove name", src: etcd, target: ErrInvalidArgument,
			edit: func(e *Editor) error { return e.RemoveFlag("", "---") },
			msg:  "is not a flag name",
		},
		{
			name: "mount conflict", src: etcd, target: ErrMountConflict,
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "certs", HostPath: "/srv/pki", MountPath: "/etc/kubernetes/pki/etcd"})
			},
			msg: `etcd.yaml: container "etcd": mount /etc/kubernetes/pki/etcd: mount path already in use: /etc/kubernetes/pki/etcd is already mounted from volume "etcd-certs"`,
		},
		{
			name: "mount needs write", src: string(load(t, "apiserver-kubeadm.yaml")), target: ErrMountConflict,
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "pki", HostPath: "/etc/kubernetes/pki", MountPath: "/etc/kubernetes/pki"})
			},
			msg: "readOnly true",
		},
		{
			name: "bad volume name", src: etcd, target: ErrInvalidArgument,
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "Enc_1", HostPath: "/a", MountPath: "/a"})
			},
			msg: "must be a DNS label",
		},
		{
			name: "relative path", src: etcd, target: ErrInvalidArgument,
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("", HostPathMount{Name: "enc", HostPath: "enc", MountPath: "/a"})
			},
			msg: `host path "enc" must be absolute`,
		},
		{
			name: "batch rolls back", src: etcd, target: ErrInvalidArgument,
			edit: func(e *Editor) error {
				return e.SetFlags("", map[string]string{"cert-file": "/b", "z=z": "1"})
			},
			msg: `"z=z" is not a flag name`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEditor("etcd.yaml", []byte(tc.src))
			if tc.edit == nil {
				if err == nil {
					t.Fatal("NewEditor accepted it")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				err = tc.edit(e)
				if !bytes.Equal(e.Bytes(), []byte(tc.src)) {
					t.Errorf("a failed edit changed the manifest:\n%s", e.Bytes())
				}
			}
			if !errors.Is(err, tc.target) {
				t.Fatalf("error %v, want %v", err, tc.target)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not contain %q", err, tc.msg)
			}
		})
	}
}

func TestReplaceInFlag(t *testing.T) {
	e, err := NewEditor("etcd.yaml", load(t, "etcd-insecure.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	changed, err := e.ReplaceInFlag("", "listen-peer-urls", "http://", "https://")
	if err != nil || !changed {
		t.Fatalf("ReplaceInFlag = %v, %v", changed, err)
	}
	if v, _ := e.Flag("", "listen-peer-urls"); v != "https://192.168.56.10:2380" {
		t.Errorf("value = %q", v)
	}
	before := e.Bytes()
	for _, f := range []string{"listen-peer-urls", "cert-file"} {
		changed, err = e.ReplaceInFlag("", f, "http://", "https://")
		if err != nil || changed || !bytes.Equal(before, e.Bytes()) {
			t.Errorf("%s: second ReplaceInFlag = %v, %v", f, changed, err)
		}
	}
	if _, err := e.ReplaceInFlag("nope", "x", "a", "b"); !errors.Is(err, ErrContainerNotFound) {
		t.Errorf("missing container: %v", err)
	}
}

// TestInline pins small layouts byte for byte: where new flags go, the last line
// of a file without a final line break, empty and missing lists.
func TestInline(t *testing.T) {
	const head = "kind: Pod\nspec:\n  containers:\n  - name: a\n"
	tests := []struct {
		name, src, want string
		edit            func(*Editor) error
	}{
		{
			name: "most flags in args",
			src:  head + "    command:\n    - etcd\n    - --a=1\n    args:\n    - --b=1\n    - --c=1\n",
			want: head + "    command:\n    - etcd\n    - --a=1\n    args:\n    - --b=1\n    - --c=1\n    - --d=1\n",
			edit: func(e *Editor) error { return e.SetFlag("", "d", "1") },
		},
		{
			name: "most flags in command",
			src:  head + "    command:\n    - etcd\n    - --a=1\n    - --b=1\n    args:\n    - --c=1\n",
			want: head + "    command:\n    - etcd\n    - --a=1\n    - --b=1\n    - --d=1\n    args:\n    - --c=1\n",
			edit: func(e *Editor) error { return e.SetFlag("", "d", "1") },
		},
		{
			name: "empty args list",
			src:  head + "    command:\n    - etcd\n    args: [] # none yet\n    image: x\n",
			want: head + "    command:\n    - etcd\n    args: # none yet\n    - --d=1\n    image: x\n",
			edit: func(e *Editor) error { return e.SetFlag("", "d", "1") },
		},
		{
			name: "null command",
			src:  head + "    command:\n    image: x\n",
			want: head + "    command:\n    - --d=1\n    image: x\n",
			edit: func(e *Editor) error { return e.SetFlag("", "d", "1") },
		},
		{
			name: "remove last line without line break",
			src:  head + "    args:\n    - --x=1\n    - --y=2",
			want: head + "    args:\n    - --x=1",
			edit: func(e *Editor) error { return e.RemoveFlag("", "y") },
		},
		{
			name: "remove duplicates and separate values",
			src:  head + "    args:\n    - --y\n    - \"2\"\n    - --x=1\n    - -y=3 # old\n    - --y",
			want: head + "    args:\n    - --x=1",
			edit: func(e *Editor) error { return e.RemoveFlag("", "y") },
		},
		{
			name: "separate value starting with a dash",
			src:  head + "    args:\n    - --y\n    - \"2\"\n    - --x=1\n",
			want: head + "    args:\n    - --y=-2\n    - --x=1\n",
			edit: func(e *Editor) error { return e.SetFlag("", "y", "-2") },
		},
		{
			name: "bare flag set to true stays bare",
			src:  head + "    args:\n    - --x\n    - --y=1\n",
			want: head + "    args:\n    - --x\n    - --y=1\n",
			edit: func(e *Editor) error { return e.SetFlag("", "x", "true") },
		},
		{
			name: "multi-line plain and double-quoted items",
			src:  head + "    args:\n    - --x=a\n      b\n    - \"--y=1\\\n      2\" # c\n    - --z=1\n",
			want: head + "    args:\n    - --x=c\n    - \"--y=3\" # c\n    - --z=1\n",
			edit: func(e *Editor) error { return errors.Join(e.SetFlag("", "x", "c"), e.SetFlag("", "y", "3")) },
		},
		{
			name: "literal item with keep chomping becomes plain",
			src:  head + "    args:\n    - |+\n      --x=1\n\n    - --z=1\n",
			want: head + "    args:\n    - --x=2\n\n    - --z=1\n",
			edit: func(e *Editor) error { return e.SetFlag("", "x", "2") },
		},
		{
			name: "value with a line break is double-quoted",
			src:  head + "    args:\n    - '--x=1'\n",
			want: head + "    args:\n    - \"--x=a\\nb\"\n",
			edit: func(e *Editor) error { return e.SetFlag("", "x", "a\nb") },
		},
		{
			name: "mount in a container that is last in spec, no volumes",
			src:  head + "    image: x",
			want: head + "    image: x\n    volumeMounts:\n    - mountPath: /m\n      name: v\n  volumes:\n  - hostPath:\n      path: /h\n    name: v",
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("a", HostPathMount{Name: "v", HostPath: "/h", MountPath: "/m"})
			},
		},
		{
			name: "mount with empty lists",
			src:  head + "    volumeMounts: []\n  volumes:\n",
			want: head + "    volumeMounts:\n    - mountPath: /m\n      name: v\n      readOnly: true\n  volumes:\n  - hostPath:\n      path: /h\n      type: File\n    name: v\n",
			edit: func(e *Editor) error {
				return e.EnsureHostPathMount("a", HostPathMount{Name: "v", HostPath: "/h", MountPath: "/m", ReadOnly: true, Type: "File"})
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEditor("a.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(e); err != nil {
				t.Fatal(err)
			}
			if got := string(e.Bytes()); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}
