package discover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kubeadmEtcd returns the shared unhardened etcd.yaml with old replaced by new.
func kubeadmEtcd(t *testing.T, old, new string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifests, "unhardened", EtcdFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%q not in the shared etcd.yaml", old)
	}
	return []byte(strings.Replace(string(data), old, new, 1))
}

// TestMalformedArgument: "- --name node1" is one argv item that etcd refuses; discover
// names it, its line and the fix instead of reading the node name as absent.
func TestMalformedArgument(t *testing.T) {
	tests := []struct{ item, fix string }{
		{"- --name node1", "write it as --name=node1"},
		{"- '--name  node1'", "write it as --name=node1"},
		{"- --name =node1", "write it as --name=node1"},
		{"- -name\tnode1", "write it as -name=node1"},
	}
	for _, tt := range tests {
		t.Run(tt.item, func(t *testing.T) {
			data := kubeadmEtcd(t, "- --name=node1", tt.item)
			m, err := ParseManifest("/", "/m/etcd.yaml", data, EtcdBinary)
			if m != nil || !errors.Is(err, ErrMalformedArg) {
				t.Fatalf("got %v, %v; want ErrMalformedArg", m, err)
			}
			line := 1 + strings.Count(string(data[:strings.Index(string(data), tt.item)]), "\n")
			for _, s := range []string{fmt.Sprintf("/m/etcd.yaml:%d: ", line), "has a blank where \"=\" belongs", "etcd reads it as one flag", "refuses to start", tt.fix} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}

// TestDuplicates: a flag given twice is reported with every occurrence and which one
// takes effect.
func TestDuplicates(t *testing.T) {
	data := kubeadmEtcd(t, "- --name=node1", "- --name=node1\n    - --listen-client-urls=http://10.0.0.9:2379\n    - --data-dir\n    - /data")
	m, err := ParseManifest("/", "/m/etcd.yaml", data, EtcdBinary)
	if err != nil {
		t.Fatal(err)
	}
	d := m.Duplicates()
	if len(d) != 2 {
		t.Fatalf("Duplicates() = %+v, want data-dir and listen-client-urls", d)
	}
	got := d[0].Describe(m) + "\n" + d[1].Describe(m)
	for _, s := range []string{
		"etcd.yaml gives --data-dir 2 times (--data-dir=/var/lib/etcd, then --data-dir /data): etcd uses the last one, --data-dir /data",
		"etcd.yaml gives --listen-client-urls 2 times (--listen-client-urls=http://127.0.0.1:2379, then --listen-client-urls=http://10.0.0.9:2379): etcd uses the last one",
	} {
		if !strings.Contains(got, s) {
			t.Errorf("%s\ndoes not contain %q", got, s)
		}
	}
	if v, _ := m.Flag("listen-client-urls"); v != "http://10.0.0.9:2379" {
		t.Errorf("Flag = %q, want the last one", v)
	}
}
