package etcdconn

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/discover"
)

// nodeRoot lays out a root with the shared manifests of pair ("hardened" or "unhardened").
func nodeRoot(t *testing.T, pair string) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "etc", "kubernetes", "manifests")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{discover.EtcdFile, discover.APIServerFile} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "manifests", pair, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func load(t *testing.T, root string) *discover.State {
	t.Helper()
	s, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// editManifest replaces old with new in a manifest under root.
func editManifest(t *testing.T, root, name, old, new string) {
	t.Helper()
	p := filepath.Join(root, "etc", "kubernetes", "manifests", name)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q", name, old)
	}
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(data), old, new)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestFromStateHardened(t *testing.T) {
	root := nodeRoot(t, "hardened")
	c, err := FromState(load(t, root))
	if err != nil {
		t.Fatal(err)
	}
	want := Conn{
		Endpoints:    []string{"https://127.0.0.1:2379"},
		EndpointFrom: "etcd.yaml --listen-client-urls",
		CACert:       filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt"),
		CACertFrom:   "kube-apiserver.yaml --etcd-cafile",
		Cert:         filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.crt"),
		CertFrom:     "kube-apiserver.yaml --etcd-certfile",
		Key:          filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.key"),
		KeyFrom:      "kube-apiserver.yaml --etcd-keyfile",
	}
	if !equal(c, want) {
		t.Fatalf("FromState =\n%+v\nwant\n%+v", c, want)
	}
}

func TestFromStatePrefersLoopbackAndFallsBackToPKI(t *testing.T) {
	root := nodeRoot(t, "hardened")
	editManifest(t, root, "etcd.yaml", "--listen-client-urls=https://127.0.0.1:2379", "--listen-client-urls=https://10.0.0.5:2379,https://127.0.0.1:2379")
	editManifest(t, root, "etcd.yaml", "--advertise-client-urls=https://127.0.0.1:2379", "--advertise-client-urls=https://10.0.0.5:2379")
	if err := os.Remove(filepath.Join(root, "etc/kubernetes/manifests/kube-apiserver.yaml")); err != nil {
		t.Fatal(err)
	}
	c, err := FromState(load(t, root))
	if err != nil {
		t.Fatal(err)
	}
	pki := filepath.Join(root, "etc/kubernetes/pki/etcd")
	if c.Endpoint() != "https://127.0.0.1:2379" || c.CACert != filepath.Join(pki, "ca.crt") ||
		c.CACertFrom != "etcd.yaml --trusted-ca-file" || c.Cert != filepath.Join(pki, "healthcheck-client.crt") ||
		c.Key != filepath.Join(pki, "healthcheck-client.key") {
		t.Fatalf("FromState = %+v", c)
	}

	// No loopback listener: the first advertised URL.
	editManifest(t, root, "etcd.yaml", "https://10.0.0.5:2379,https://127.0.0.1:2379", "https://10.0.0.5:2379")
	c, err = FromState(load(t, root))
	if err != nil || c.Endpoint() != "https://10.0.0.5:2379" || c.EndpointFrom != "etcd.yaml --advertise-client-urls" {
		t.Fatalf("FromState = %+v, %v", c, err)
	}
}

func TestFromStateHTTPNeedsNoTLS(t *testing.T) {
	c, err := FromState(load(t, nodeRoot(t, "unhardened")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint() != "http://127.0.0.1:2379" || c.CACert != "" || c.Cert != "" || c.Key != "" {
		t.Fatalf("FromState = %+v", c)
	}
	cfg, err := c.ClientConfig()
	if err != nil || cfg.TLS != nil || cfg.DialTimeout != DialTimeout {
		t.Fatalf("ClientConfig = %+v, %v", cfg, err)
	}
}

func TestResolveFlagsWin(t *testing.T) {
	root := nodeRoot(t, "hardened")
	s := load(t, root)
	c, err := Resolve(FromFlags(nil, "", "/x/me.crt", "/x/me.key"), s)
	if err != nil {
		t.Fatal(err)
	}
	if c.Endpoint() != "https://127.0.0.1:2379" || c.Cert != "/x/me.crt" || c.CertFrom != FromCertFlag ||
		c.CACertFrom != "kube-apiserver.yaml --etcd-cafile" {
		t.Fatalf("Resolve = %+v", c)
	}
	c, err = Resolve(FromFlags([]string{"https://10.1.1.1:2379"}, "", "", ""), nil)
	if err != nil || c.Endpoint() != "https://10.1.1.1:2379" || c.EndpointFrom != FromEndpointsFlag {
		t.Fatalf("Resolve without manifests = %+v, %v", c, err)
	}
	if _, err := Resolve(Conn{}, nil); err == nil || !strings.Contains(err.Error(), "--endpoints") {
		t.Fatalf("Resolve with nothing: %v", err)
	}
}

// TestFromCommandLine: a flag wins over its ETCDCTL_* variable, a variable fills what the
// flags leave empty, and both are named as the command line in messages.
func TestFromCommandLine(t *testing.T) {
	env := map[string]string{
		"ETCDCTL_ENDPOINTS": "https://10.0.0.1:2379,https://10.0.0.2:2379",
		"ETCDCTL_CACERT":    "/env/ca.crt",
		"ETCDCTL_CERT":      "/env/me.crt",
		"ETCDCTL_KEY":       "/env/me.key",
	}
	c := FromCommandLine(Conn{Cert: "/flag/me.crt", Key: "/flag/me.key"}, func(k string) string { return env[k] })
	want := Conn{
		Endpoints: []string{"https://10.0.0.1:2379", "https://10.0.0.2:2379"}, CACert: "/env/ca.crt",
		Cert: "/flag/me.crt", Key: "/flag/me.key",
		EndpointFrom: FromEndpointsFlag, CACertFrom: FromCACertFlag, CertFrom: FromCertFlag, KeyFrom: FromKeyFlag,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("FromCommandLine = %+v, want %+v", c, want)
	}
	flags := Conn{Endpoints: []string{"http://127.0.0.1:2379"}}
	if c := FromCommandLine(flags, func(string) string { return "" }); !reflect.DeepEqual(c, FromFlags(flags.Endpoints, "", "", "")) {
		t.Fatalf("FromCommandLine without variables = %+v", c)
	}
	if c := FromCommandLine(Conn{}, func(string) string { return "" }); !reflect.DeepEqual(c, Conn{}) {
		t.Fatalf("FromCommandLine with nothing = %+v, want the zero Conn (the manifests say it all)", c)
	}
}

func TestClientConfigErrors(t *testing.T) {
	root := nodeRoot(t, "hardened")
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	pki := filepath.Join(root, "etc/kubernetes/pki")
	copyFile(t, srv.TLS.CA, filepath.Join(pki, "etcd/ca.crt"))
	copyFile(t, srv.TLS.ClientCert, filepath.Join(pki, "apiserver-etcd-client.crt"))
	c, err := FromState(load(t, root))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		conn Conn
		want []string
	}{
		{"missing key from manifest", c, []string{c.Key, "does not exist", "kube-apiserver.yaml --etcd-keyfile", "--key"}},
		{"cert without key", Conn{Endpoints: c.Endpoints, Cert: c.Cert, CertFrom: FromCertFlag}, []string{"without its key", c.Cert}},
		{"key is not a key", Conn{Endpoints: c.Endpoints, Cert: c.Cert, Key: c.Cert}, []string{"do not make a pair"}},
		{"CA is not PEM", Conn{Endpoints: c.Endpoints, CACert: filepath.Join(root, "etc/kubernetes/manifests/etcd.yaml")}, []string{"no PEM certificate"}},
		{"bad endpoint", Conn{Endpoints: []string{"ftp://x"}, EndpointFrom: FromEndpointsFlag}, []string{`"ftp://x"`, FromEndpointsFlag}},
		{"no endpoint", Conn{}, []string{"--endpoints"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.conn.ClientConfig()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestClientConfigReachesEtcd points a hardened node's manifests at a real etcd with mutual
// TLS and reads a key through the configuration FromState builds.
func TestClientConfigReachesEtcd(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	if _, err := srv.Client(t).Put(context.Background(), "/registry/x", "y"); err != nil {
		t.Fatal(err)
	}
	root := nodeRoot(t, "hardened")
	editManifest(t, root, "etcd.yaml", "--listen-client-urls=https://127.0.0.1:2379", "--listen-client-urls="+srv.Endpoint)
	pki := filepath.Join(root, "etc/kubernetes/pki")
	copyFile(t, srv.TLS.CA, filepath.Join(pki, "etcd/ca.crt"))
	copyFile(t, srv.TLS.ClientCert, filepath.Join(pki, "apiserver-etcd-client.crt"))
	copyFile(t, srv.TLS.ClientKey, filepath.Join(pki, "apiserver-etcd-client.key"))

	c, err := FromState(load(t, root))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "/registry/x")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "y" {
		t.Fatalf("Get = %v, %v", resp, err)
	}
	if got := DataDir(load(t, root)); got != filepath.Join(root, "var/lib/etcd") {
		t.Errorf("DataDir = %q", got)
	}
}

func equal(a, b Conn) bool {
	return strings.Join(a.Endpoints, ",") == strings.Join(b.Endpoints, ",") &&
		a.CACert == b.CACert && a.Cert == b.Cert && a.Key == b.Key &&
		a.EndpointFrom == b.EndpointFrom && a.CACertFrom == b.CACertFrom &&
		a.CertFrom == b.CertFrom && a.KeyFrom == b.KeyFrom
}
