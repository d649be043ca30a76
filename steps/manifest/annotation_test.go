package manifest

import (
	"strings"
	"testing"
)

func TestReplaceInAnnotation(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		changed        bool
	}{
		{"plain", "    kubeadm.kubernetes.io/etcd.advertise-client-urls: http://10.0.0.5:2379 # node\n",
			"    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.5:2379 # node\n", true},
		{"quoted", "    kubeadm.kubernetes.io/etcd.advertise-client-urls: 'http://10.0.0.5:2379'\n",
			"    kubeadm.kubernetes.io/etcd.advertise-client-urls: 'https://10.0.0.5:2379'\n", true},
		{"already https", "    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.5:2379\n",
			"    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.5:2379\n", false},
		{"absent", "    other: x\n", "    other: x\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n" + tc.in +
				"  name: etcd\nspec:\n  containers:\n  - command:\n    - etcd\n    - --advertise-client-urls=http://10.0.0.5:2379\n    name: etcd\n"
			e, err := NewEditor("etcd.yaml", []byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			changed, err := e.ReplaceInAnnotation("kubeadm.kubernetes.io/etcd.advertise-client-urls", "http://", "https://")
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Replace(doc, tc.in, tc.want, 1)
			if changed != tc.changed || string(e.Bytes()) != want {
				t.Fatalf("changed=%v\n%s\nwant changed=%v\n%s", changed, e.Bytes(), tc.changed, want)
			}
		})
	}
}
