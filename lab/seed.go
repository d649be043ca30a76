package lab

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Defaults for Options.Secrets and Options.ConfigMaps.
const (
	DefaultSecrets    = 200
	DefaultConfigMaps = 40
)

// Namespaces the seeded objects are spread over.
var Namespaces = []string{"kube-system", "default", "app-prod", "app-staging", "monitoring"}

// txnOps stays under etcd's default --max-txn-ops (128).
const txnOps = 100

// Seeded counts what Seed wrote.
type Seeded struct {
	Namespaces, Secrets, ConfigMaps int
}

// scheme knows the core/v1 types, so the protobuf serializer can set apiVersion and kind.
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := corev1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// Serializer encodes and decodes objects the way kube-apiserver stores them in etcd:
// protobuf behind the "k8s\x00" magic, apiVersion and kind set.
var Serializer = protobuf.NewSerializer(scheme, scheme)

// Seed writes Namespaces, secrets Secrets and configMaps ConfigMaps under /registry/
// through c, in plaintext, as kube-apiserver without an encryption config stores them.
// caPEM is the cluster CA that service-account token Secrets and kube-root-ca.crt carry.
// Writes are batched in transactions of up to 100 puts.
func Seed(ctx context.Context, c *clientv3.Client, secrets, configMaps int, caPEM []byte) (Seeded, error) {
	var ops []clientv3.Op
	var n Seeded
	flush := func(force bool) error {
		if len(ops) == 0 || (!force && len(ops) < txnOps) {
			return nil
		}
		if _, err := c.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("seed the lab's etcd: %w", err)
		}
		ops = ops[:0]
		return nil
	}
	put := func(key string, obj runtime.Object) error {
		var b bytes.Buffer
		if err := Serializer.Encode(obj, &b); err != nil {
			return fmt.Errorf("encode %s: %w", key, err)
		}
		ops = append(ops, clientv3.OpPut(key, b.String()))
		return flush(false)
	}
	created := metav1.NewTime(time.Now().Add(-72 * time.Hour).Truncate(time.Second))
	for _, ns := range append([]string{"kube-public", "kube-node-lease"}, Namespaces...) {
		obj := &corev1.Namespace{ObjectMeta: meta("", ns, created), Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
		obj.Labels = map[string]string{"kubernetes.io/metadata.name": ns}
		if err := put("/registry/namespaces/"+ns, obj); err != nil {
			return n, err
		}
		n.Namespaces++
	}
	for i := range max(secrets, 0) {
		s, err := secret(i, caPEM, created)
		if err != nil {
			return n, err
		}
		if err := put(SecretKey(s.Namespace, s.Name), s); err != nil {
			return n, err
		}
		n.Secrets++
	}
	for i := range max(configMaps, 0) {
		cm := configMap(i, caPEM, created)
		if err := put("/registry/configmaps/"+cm.Namespace+"/"+cm.Name, cm); err != nil {
			return n, err
		}
		n.ConfigMaps++
	}
	return n, flush(true)
}

// SecretKey is the etcd key kube-apiserver stores a Secret under.
func SecretKey(namespace, name string) string {
	return "/registry/secrets/" + namespace + "/" + name
}

func meta(ns, name string, created metav1.Time) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID(uuid.NewUUID()), CreationTimestamp: created}
}

// secret returns the i-th seeded Secret: a mix of the types a cluster holds.
func secret(i int, caPEM []byte, created metav1.Time) (*corev1.Secret, error) {
	ns := Namespaces[i%len(Namespaces)]
	s := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	switch i % 8 {
	case 0, 1, 2:
		names := []string{"db-credentials", "api-keys", "smtp-relay", "oauth-client", "s3-backup"}
		s.ObjectMeta = meta(ns, fmt.Sprintf("%s-%d", names[i%len(names)], i), created)
		s.Type = corev1.SecretTypeOpaque
		s.Data = map[string][]byte{"username": []byte(fmt.Sprintf("svc-%d", i)), "password": randomText(24)}
	case 3:
		cert, key, err := tlsPair(fmt.Sprintf("web-%d.%s.svc", i, ns))
		if err != nil {
			return nil, err
		}
		s.ObjectMeta = meta(ns, fmt.Sprintf("web-%d-tls", i), created)
		s.Type = corev1.SecretTypeTLS
		s.Data = map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}
	case 4, 5:
		sa := []string{"default", "builder", "deployer", "prometheus"}[i%4]
		s.ObjectMeta = meta(ns, fmt.Sprintf("%s-token-%s%03s", sa, hex.EncodeToString(randomBytes(1)), strconv.FormatInt(int64(i), 36)), created)
		s.Annotations = map[string]string{
			corev1.ServiceAccountNameKey: sa,
			corev1.ServiceAccountUIDKey:  string(uuid.NewUUID()),
		}
		s.Type = corev1.SecretTypeServiceAccountToken
		s.Data = map[string][]byte{"ca.crt": caPEM, "namespace": []byte(ns), "token": fakeJWT(ns, sa)}
	case 6:
		auth := base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("robot-%d:", i) + string(randomText(20))))
		cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{"registry.example.com": map[string]string{"auth": auth}}})
		s.ObjectMeta = meta(ns, fmt.Sprintf("regcred-%d", i), created)
		s.Type = corev1.SecretTypeDockerConfigJson
		s.Data = map[string][]byte{corev1.DockerConfigJsonKey: cfg}
	default:
		s.ObjectMeta = meta(ns, fmt.Sprintf("basic-auth-%d", i), created)
		s.Type = corev1.SecretTypeBasicAuth
		s.Data = map[string][]byte{corev1.BasicAuthUsernameKey: []byte("admin"), corev1.BasicAuthPasswordKey: randomText(16)}
	}
	return s, nil
}

// configMap returns the i-th seeded ConfigMap: kube-root-ca.crt in each namespace first,
// as the root CA publisher writes it, then application settings.
func configMap(i int, caPEM []byte, created metav1.Time) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}}
	if i < len(Namespaces) {
		cm.ObjectMeta = meta(Namespaces[i], "kube-root-ca.crt", created)
		cm.Data = map[string]string{"ca.crt": string(caPEM)}
		return cm
	}
	ns := Namespaces[i%len(Namespaces)]
	cm.ObjectMeta = meta(ns, fmt.Sprintf("app-config-%d", i), created)
	cm.Data = map[string]string{
		"LOG_LEVEL":    "info",
		"FEATURE_FLAG": fmt.Sprintf("rollout-%d", i%3),
		"app.yaml":     fmt.Sprintf("server:\n  port: %d\n  replicas: %d\n", 8000+i, 1+i%3),
	}
	return cm
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func randomText(n int) []byte {
	return []byte(base64.RawURLEncoding.EncodeToString(randomBytes(n))[:n])
}

// fakeJWT looks like a legacy service-account token; its signature is random bytes.
func fakeJWT(ns, sa string) []byte {
	enc := base64.RawURLEncoding.EncodeToString
	header := enc([]byte(`{"alg":"RS256","kid":"lab"}`))
	claims, _ := json.Marshal(map[string]string{
		"iss": "kubernetes/serviceaccount", "kubernetes.io/serviceaccount/namespace": ns,
		"kubernetes.io/serviceaccount/service-account.name": sa, "sub": "system:serviceaccount:" + ns + ":" + sa,
	})
	return []byte(header + "." + enc(claims) + "." + enc(randomBytes(64)))
}

// tlsPair makes a self-signed ECDSA certificate and key in PEM, like cert-manager output.
func tlsPair(host string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(randomBytes(8)),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(0, 3, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make a TLS Secret's certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
