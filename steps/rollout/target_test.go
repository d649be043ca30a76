package rollout_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// etcdYAML is a kubeadm-style etcd manifest whose URLs use scheme; the advertised URL is
// not a loopback one, the listen URLs include 127.0.0.1.
func etcdYAML(scheme string) string {
	tls := ""
	if scheme == "https" {
		tls = `
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --client-cert-auth=true
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt`
	}
	return `apiVersion: v1
kind: Pod
metadata:
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=` + scheme + `://10.0.0.5:2379
    - --listen-client-urls=` + scheme + `://10.0.0.5:2379,` + scheme + `://127.0.0.1:2379
    - --listen-metrics-urls=http://0.0.0.0:2381
    - --data-dir=/var/lib/etcd
    - --name=node-1` + tls + `
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
      path: /var/lib/etcd
    name: etcd-data
`
}

// apiYAML is a kube-apiserver manifest with the given extra flags.
func apiYAML(flags string) string {
	return `apiVersion: v1
kind: Pod
metadata:
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --etcd-servers=https://127.0.0.1:2379` + flags + `
    image: registry.k8s.io/kube-apiserver:v1.32.4
    name: kube-apiserver
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
  volumes:
  - hostPath:
      path: /srv/pki
    name: k8s-certs
`
}

func TestTargetFor(t *testing.T) {
	root := "/node"
	l := discover.Defaults(root, "", "")
	pki := filepath.Join(root, "etc", "kubernetes", "pki", "etcd")
	apiFlags := `
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key`
	for _, tc := range []struct {
		name      string
		etcd, api string
		want      rollout.Target
	}{
		{"http", etcdYAML("http"), apiYAML(""), rollout.Target{
			Endpoint: "http://127.0.0.1:2379", MetricsURL: "http://127.0.0.1:2381"}},
		{"apiserver pair, mapped through its hostPath volume", etcdYAML("https"), apiYAML(apiFlags), rollout.Target{
			Endpoint: "https://127.0.0.1:2379", MetricsURL: "http://127.0.0.1:2381",
			CAFile: "/node/srv/pki/etcd/ca.crt", CertFile: "/node/srv/pki/apiserver-etcd-client.crt",
			KeyFile: "/node/srv/pki/apiserver-etcd-client.key", Client: "kube-apiserver.yaml --etcd-certfile"}},
		{"healthcheck pair without apiserver flags", etcdYAML("https"), apiYAML(""), rollout.Target{
			Endpoint: "https://127.0.0.1:2379", MetricsURL: "http://127.0.0.1:2381",
			CAFile: filepath.Join(pki, "ca.crt"), CertFile: filepath.Join(pki, "healthcheck-client.crt"),
			KeyFile: filepath.Join(pki, "healthcheck-client.key"), Client: "healthcheck-client"}},
		{"no kube-apiserver.yaml", etcdYAML("https"), "", rollout.Target{
			Endpoint: "https://127.0.0.1:2379", MetricsURL: "http://127.0.0.1:2381",
			CAFile: filepath.Join(pki, "ca.crt"), CertFile: filepath.Join(pki, "healthcheck-client.crt"),
			KeyFile: filepath.Join(pki, "healthcheck-client.key"), Client: "healthcheck-client"}},
		{"no loopback URL: the advertised one", strings.ReplaceAll(etcdYAML("http"), ",http://127.0.0.1:2379", ""), "", rollout.Target{
			Endpoint: "http://10.0.0.5:2379", MetricsURL: "http://127.0.0.1:2381"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var api []byte
			if tc.api != "" {
				api = []byte(tc.api)
			}
			got, err := rollout.TargetFor(l, []byte(tc.etcd), api)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("TargetFor:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestTargetForBadManifest(t *testing.T) {
	_, err := rollout.TargetFor(discover.Defaults("/node", "", ""), []byte("kind: Service\n"), nil)
	if !errors.Is(err, discover.ErrNotPod) {
		t.Fatalf("TargetFor: %v; want ErrNotPod", err)
	}
}
