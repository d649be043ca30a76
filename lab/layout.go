package lab

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"text/template"
	"time"
)

// Paths of the lab tree, relative to the root, in slash form as on a kubeadm node.
const (
	ManifestsDir  = "etc/kubernetes/manifests"
	PKIDir        = "etc/kubernetes/pki"
	EtcdPKIDir    = "etc/kubernetes/pki/etcd"
	EtcdDataDir   = "var/lib/etcd"
	LogFile       = "var/log/etcd-harden-lab/etcd.log"
	StateFile     = "var/lib/etcd-harden-lab/lab.json"
	EtcdManifest  = ManifestsDir + "/etcd.yaml"
	APIServerFile = ManifestsDir + "/kube-apiserver.yaml"
)

// NodeName is the control-plane node name the lab's manifests use (etcd --name).
const NodeName = "lab-control-plane"

// Ports are the loopback ports the lab's etcd listens on.
type Ports struct {
	Client, Peer, Metrics int
}

// FreePorts picks three loopback TCP ports that are free at the time of the call.
func FreePorts() (Ports, error) {
	return freePortsOn("127.0.0.1", "the lab's etcd")
}

// freePortsOn picks client, peer and metrics ports free on ip for what.
func freePortsOn(ip, what string) (Ports, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var p [3]int
	for i := range p {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			return Ports{}, fmt.Errorf("pick a free port on %s for %s: %w", ip, what, err)
		}
		ls = append(ls, l)
		p[i] = l.Addr().(*net.TCPAddr).Port
	}
	return Ports{Client: p[0], Peer: p[1], Metrics: p[2]}, nil
}

// manifestData feeds the manifest templates.
type manifestData struct {
	Ports
	Node      string
	EtcdImage string
	K8sImage  string
}

// etcdTemplate is etcd.yaml as kubeadm v1.32 writes it, except that it is not hardened:
// clients and peers speak plain http, with no certificates and no client-cert-auth. The
// etcd-certs volume is there (kubeadm always mounts it), just not used yet.
var etcdTemplate = template.Must(template.New("etcd.yaml").Parse(`apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: http://127.0.0.1:{{.Client}}
  creationTimestamp: null
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=http://127.0.0.1:{{.Client}}
    - --data-dir=/var/lib/etcd
    - --experimental-initial-corrupt-check=true
    - --experimental-watch-progress-notify-interval=5s
    - --initial-advertise-peer-urls=http://127.0.0.1:{{.Peer}}
    - --initial-cluster={{.Node}}=http://127.0.0.1:{{.Peer}}
    - --listen-client-urls=http://127.0.0.1:{{.Client}}
    - --listen-metrics-urls=http://127.0.0.1:{{.Metrics}}
    - --listen-peer-urls=http://127.0.0.1:{{.Peer}}
    - --name={{.Node}}
    - --snapshot-count=10000
    image: {{.EtcdImage}}
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: {{.Metrics}}
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: etcd
    readinessProbe:
      failureThreshold: 3
      httpGet:
        host: 127.0.0.1
        path: /readyz
        port: {{.Metrics}}
        scheme: HTTP
      periodSeconds: 1
      timeoutSeconds: 15
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 127.0.0.1
        path: /readyz
        port: {{.Metrics}}
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: /etc/kubernetes/pki/etcd
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: /var/lib/etcd
      type: DirectoryOrCreate
    name: etcd-data
status: {}
`))

// apiServerTemplate is kube-apiserver.yaml as kubeadm v1.32 writes it, except that it
// talks to etcd over plain http (no --etcd-cafile/certfile/keyfile) and has no
// --encryption-provider-config.
var apiServerTemplate = template.Must(template.New("kube-apiserver.yaml").Parse(`apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint: 127.0.0.1:6443
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=127.0.0.1
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --enable-admission-plugins=NodeRestriction
    - --enable-bootstrap-token-auth=true
    - --etcd-servers=http://127.0.0.1:{{.Client}}
    - --kubelet-client-certificate=/etc/kubernetes/pki/apiserver-kubelet-client.crt
    - --kubelet-client-key=/etc/kubernetes/pki/apiserver-kubelet-client.key
    - --kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname
    - --proxy-client-cert-file=/etc/kubernetes/pki/front-proxy-client.crt
    - --proxy-client-key-file=/etc/kubernetes/pki/front-proxy-client.key
    - --requestheader-allowed-names=front-proxy-client
    - --requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt
    - --requestheader-extra-headers-prefix=X-Remote-Extra-
    - --requestheader-group-headers=X-Remote-Group
    - --requestheader-username-headers=X-Remote-User
    - --secure-port=6443
    - --service-account-issuer=https://kubernetes.default.svc.cluster.local
    - --service-account-key-file=/etc/kubernetes/pki/sa.pub
    - --service-account-signing-key-file=/etc/kubernetes/pki/sa.key
    - --service-cluster-ip-range=10.96.0.0/12
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: {{.K8sImage}}
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: 6443
        scheme: HTTPS
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: kube-apiserver
    readinessProbe:
      failureThreshold: 3
      httpGet:
        host: 127.0.0.1
        path: /readyz
        port: 6443
        scheme: HTTPS
      periodSeconds: 1
      timeoutSeconds: 15
    resources:
      requests:
        cpu: 250m
    startupProbe:
      failureThreshold: 24
      httpGet:
        host: 127.0.0.1
        path: /livez
        port: 6443
        scheme: HTTPS
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    volumeMounts:
    - mountPath: /etc/ssl/certs
      name: ca-certs
      readOnly: true
    - mountPath: /etc/ca-certificates
      name: etc-ca-certificates
      readOnly: true
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
    - mountPath: /usr/local/share/ca-certificates
      name: usr-local-share-ca-certificates
      readOnly: true
    - mountPath: /usr/share/ca-certificates
      name: usr-share-ca-certificates
      readOnly: true
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: /etc/ssl/certs
      type: DirectoryOrCreate
    name: ca-certs
  - hostPath:
      path: /etc/ca-certificates
      type: DirectoryOrCreate
    name: etc-ca-certificates
  - hostPath:
      path: /etc/kubernetes/pki
      type: DirectoryOrCreate
    name: k8s-certs
  - hostPath:
      path: /usr/local/share/ca-certificates
      type: DirectoryOrCreate
    name: usr-local-share-ca-certificates
  - hostPath:
      path: /usr/share/ca-certificates
      type: DirectoryOrCreate
    name: usr-share-ca-certificates
status: {}
`))

// Images written into the manifests: what kubeadm v1.32 pins. The lab runs the etcd
// server compiled into this binary (v3.7), whatever the tag says.
const (
	EtcdImage      = "registry.k8s.io/etcd:3.5.16-0"
	APIServerImage = "registry.k8s.io/kube-apiserver:v1.32.4"
)

// Layout writes the lab tree under root: the two manifests (0600), the etcd data folder
// (0700), an empty etcd PKI folder and a Kubernetes CA (ca.crt, ca.key 0600). It returns
// the CA certificate in PEM form, which the seeded service-account Secrets carry.
func Layout(root string, p Ports) (caPEM []byte, err error) {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{ManifestsDir, 0o700}, {EtcdPKIDir, 0o755}, {EtcdDataDir, 0o700},
		{filepath.Dir(LogFile), 0o755}, {filepath.Dir(StateFile), 0o755},
	} {
		if err := os.MkdirAll(filepath.Join(root, d.path), d.mode); err != nil {
			return nil, fmt.Errorf("lay out the lab tree under %s: %w", root, err)
		}
	}
	data := manifestData{Ports: p, Node: NodeName, EtcdImage: EtcdImage, K8sImage: APIServerImage}
	for path, tmpl := range map[string]*template.Template{EtcdManifest: etcdTemplate, APIServerFile: apiServerTemplate} {
		f, err := os.OpenFile(filepath.Join(root, path), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("write the lab manifest: %w", err)
		}
		err = tmpl.Execute(f, data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("write the lab manifest %s: %w", f.Name(), err)
		}
	}
	return writeCA(filepath.Join(root, PKIDir))
}

// writeCA makes the cluster CA kubeadm keeps in /etc/kubernetes/pki (ECDSA P-256, ten
// years, as kubeadm does with encryptionAlgorithm ECDSA-P256).
func writeCA(dir string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the lab's Kubernetes CA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("generate the lab's Kubernetes CA serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("sign the lab's Kubernetes CA: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the lab's Kubernetes CA key: %w", err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), caPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write the lab's Kubernetes CA: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write the lab's Kubernetes CA key: %w", err)
	}
	return caPEM, nil
}
