package preview

import (
	"github.com/etcd-harden/etcd-harden/internal/fixture"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/etcd-harden/etcd-harden/render"
)

// secretKey is the content of the secret file; no view may ever show it.
const secretKey = "c2VjcmV0LWtleS1ub3QtdG8tYmUtc2hvd24tb24tc2NyZWVu"

const etcdBefore = `apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.11:2379
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.11:2379
    - --data-dir=/var/lib/etcd
    - --initial-advertise-peer-urls=https://10.0.0.11:2380
    - --listen-client-urls=http://127.0.0.1:2379
    - --name=cp-1
    image: registry.k8s.io/etcd:3.5.12-0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /health?exclude=NOSPACE&serializable=true
        port: 2381
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: etcd
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
`

// etcdAfter adds TLS flags (first hunk) and the certificate volume (second hunk).
var etcdAfter = strings.NewReplacer(
	"    - --data-dir=/var/lib/etcd\n",
	"    - --cert-file=/etc/kubernetes/pki/etcd/server.crt\n    - --client-cert-auth=true\n    - --data-dir=/var/lib/etcd\n",
	"    - --listen-client-urls=http://127.0.0.1:2379\n    - --name=cp-1\n",
	"    - --key-file=/etc/kubernetes/pki/etcd/server.key\n    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.11:2379\n    - --name=cp-1\n    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n",
	"      name: etcd-data\n  hostNetwork",
	"      name: etcd-data\n    - mountPath: /etc/kubernetes/pki/etcd\n      name: etcd-certs\n  hostNetwork",
	"    name: etcd-data\nstatus",
	"    name: etcd-data\n  - hostPath:\n      path: /etc/kubernetes/pki/etcd\n      type: DirectoryOrCreate\n    name: etcd-certs\nstatus",
).Replace(etcdBefore)

const apiserverDiff = `--- a/etc/kubernetes/manifests/kube-apiserver.yaml
+++ b/etc/kubernetes/manifests/kube-apiserver.yaml
@@ -20,6 +20,7 @@
     - --enable-admission-plugins=NodeRestriction
     - --enable-bootstrap-token-auth=true
+    - --encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml
     - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
     - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt
     - --etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key
\ No newline at end of file
`

// planFiles is a plan as the wizard makes it: the etcd manifest (two hunks), a new secret
// encryption config, the apiserver manifest (one hunk).
func planFiles() []render.DiffFile {
	etcd := "etc/kubernetes/manifests/etcd.yaml"
	return []render.DiffFile{
		fixture.Counted(render.DiffFile{Path: etcd, Mode: "0600", Text: udiff.Unified("a/"+etcd, "b/"+etcd, etcdBefore, etcdAfter)}),
		// Text is empty for secret files by contract; it is filled here to prove the
		// preview does not show it even when a caller gets that wrong.
		{Path: "etc/kubernetes/enc/encryption-config.yaml", Mode: "0600", New: true, Secret: true, Added: 12,
			Text: "+      - name: key1\n+        secret: " + secretKey + "\n"},
		fixture.Counted(render.DiffFile{Path: "etc/kubernetes/manifests/kube-apiserver.yaml", Mode: "0600", Text: apiserverDiff}),
	}
}
