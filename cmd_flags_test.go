package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFolderAndHostFlags: a folder flag that names a file, and a node name or IP that
// could not be a SAN, are flag mistakes (exit 2) that say what the value is and what
// is expected, before anything is read or written.
func TestFolderAndHostFlags(t *testing.T) {
	root := unhardenedRoot(t)
	manifests := filepath.Join(root, "etc", "kubernetes", "manifests")
	etcdYAML := filepath.Join(manifests, "etcd.yaml")
	out := filepath.Join(t.TempDir(), "plan")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"manifests-dir is a file", []string{"audit", "--root", root, "--manifests-dir", etcdYAML},
			"--manifests-dir " + etcdYAML + " is a file; expected the folder that holds etcd.yaml, e.g. /etc/kubernetes/manifests (its folder " + manifests + "?)"},
		{"manifests-dir missing", []string{"audit", "--root", root, "--manifests-dir", filepath.Join(root, "nope")},
			"--manifests-dir " + filepath.Join(root, "nope") + " does not exist; expected the folder that holds etcd.yaml"},
		{"pki-dir is a file", []string{"certs", "check", "--root", root, "--pki-dir", etcdYAML},
			"--pki-dir " + etcdYAML + " is a file; expected the folder that holds etcd's certificates, e.g. /etc/kubernetes/pki/etcd"},
		{"root is a file", []string{"plan", "--out", out, "--root", etcdYAML},
			"--root " + etcdYAML + " is a file; expected the folder that holds the node's file system"},
		{"node name with a path", []string{"plan", "--out", out, "--root", root, "--node-name", "../../evil"},
			`--node-name "../../evil" is not a DNS name (RFC 1123`},
		{"advertise-ip not an IP", []string{"plan", "--out", out, "--root", root, "--advertise-ip", "10.0.0.5/24"},
			`--advertise-ip "10.0.0.5/24" is not an IP address`},
		{"advertise-ip wildcard", []string{"plan", "--out", out, "--root", root, "--advertise-ip", "0.0.0.0"},
			`--advertise-ip "0.0.0.0" is the wildcard address`},
		{"retire-key empty", []string{"plan", "--out", out, "--root", root, "--retire-key", ""},
			`--retire-key "": give an old key's name (key-2023) or provider:name (aescbc:key-2023)`},
		{"retire-key with a space", []string{"plan", "--out", out, "--root", root, "--retire-key", "key 2023"},
			`--retire-key "key 2023": give an old key's name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := cli(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "permission") {
				t.Errorf("stderr:\n%s\nwant %q", stderr, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("the plan folder was written: %v", err)
			}
		})
	}
}

// TestMalformedNameArgument: "- --name cp1" in etcd.yaml (etcd refuses it) is named
// with its line and fix; plan does not fall back to the host name, and writes nothing.
func TestMalformedNameArgument(t *testing.T) {
	root := unhardenedRoot(t)
	p := filepath.Join(root, "etc", "kubernetes", "manifests", "etcd.yaml")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "- --name=node1", "- --name node1", 1)
	if err := os.WriteFile(p, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "plan")
	for _, args := range [][]string{{"plan", "--root", root, "--out", out}, {"audit", "--root", root}} {
		code, stdout, stderr := cli(t, args...)
		want := p + `:25: the argument "--name node1" has a blank where "=" belongs`
		if code != exitFailed || !strings.Contains(stderr, want) || !strings.Contains(stderr, "write it as --name=node1") {
			t.Errorf("%s: exit %d\n%s%s\nwant exit 1 and %q", args[0], code, stdout, stderr, want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the plan folder was written: %v", err)
	}
	if got, _ := os.ReadFile(p); string(got) != bad {
		t.Error("etcd.yaml changed")
	}
}
