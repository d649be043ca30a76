package manifest

import "testing"

// BenchmarkAPIServerEdits is one plan's worth of edits on a kubeadm
// kube-apiserver.yaml: ten SetFlag calls (six in place, four new) and a mount.
func BenchmarkAPIServerEdits(b *testing.B) {
	src := load(b, "apiserver-kubeadm.yaml")
	flags := [][2]string{
		{"etcd-cafile", "/etc/kubernetes/pki/etcd/ca2.crt"},
		{"etcd-certfile", "/etc/kubernetes/pki/apiserver-etcd-client2.crt"},
		{"etcd-keyfile", "/etc/kubernetes/pki/apiserver-etcd-client2.key"},
		{"etcd-servers", "https://10.0.0.1:2379"},
		{"secure-port", "7443"},
		{"tls-cert-file", "/etc/kubernetes/pki/apiserver2.crt"},
		{"encryption-provider-config", "/etc/kubernetes/enc/config.yaml"},
		{"encryption-provider-config-automatic-reload", "true"},
		{"audit-log-path", "/var/log/kubernetes/audit.log"},
		{"profiling", "false"},
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		e, err := NewEditor("kube-apiserver.yaml", src)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range flags {
			if err := e.SetFlag("", f[0], f[1]); err != nil {
				b.Fatal(err)
			}
		}
		if err := e.EnsureHostPathMount("", encMount); err != nil {
			b.Fatal(err)
		}
	}
}
