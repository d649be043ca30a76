package harden_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
)

// bundleDir writes a bundle with a new CA and an encryption config.
func bundleDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), harden.BundleDir)
	if err := os.MkdirAll(filepath.Join(dir, harden.SecretsDir), 0o700); err != nil {
		t.Fatal(err)
	}
	ca := testetcd.NewTLS(t, filepath.Join(dir, harden.SecretsDir))
	if err := os.Rename(ca.CA, filepath.Join(dir, harden.BundleCACert)); err != nil {
		t.Fatal(err)
	}
	config := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n  - secretbox:\n      keys:\n      - name: k\n        secret: MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=\n  - identity: {}\n"
	if err := os.WriteFile(filepath.Join(dir, harden.BundleConfig), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func labNode(t *testing.T) *discover.State {
	root := t.TempDir()
	if _, err := lab.Layout(root, lab.Ports{Client: 2379, Peer: 2380, Metrics: 2381}); err != nil {
		t.Fatal(err)
	}
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestBuildWithBundle: the node's certificates are signed by the bundle's CA and its
// encryption config is the bundle's, byte for byte.
func TestBuildWithBundle(t *testing.T) {
	dir := bundleDir(t)
	b, err := harden.ReadBundle(filepath.Dir(dir)) // the plan folder works too
	if err != nil {
		t.Fatal(err)
	}
	st := labNode(t)
	r, err := harden.Build(st, harden.Options{Bundle: b})
	if err != nil {
		t.Fatal(err)
	}
	ca := certs.Find(r.Certs.Pairs, certs.PairCA)
	if got, _ := r.Plan.Current(st.Layout.Rel(ca.Cert.Path)); string(got) != string(b.CACert) {
		t.Error("the node's planned etcd CA is not the bundle's")
	}
	if got, _ := r.Plan.Current(st.Layout.Rel(r.Encryption.ConfigFile)); string(got) != string(b.EncryptionConfig) {
		t.Error("the node's planned encryption config is not the bundle's")
	}
	for _, c := range r.Certs.After {
		if c.Status == certs.Fail {
			t.Errorf("planned check fails: %+v", c)
		}
	}
}

// TestBundleRefusesAnotherCA: a node that has an etcd CA of its own is refused, the
// files named; and a folder that is no bundle is named as such.
func TestBundleRefusesAnotherCA(t *testing.T) {
	b, err := harden.ReadBundle(bundleDir(t))
	if err != nil {
		t.Fatal(err)
	}
	st := labNode(t)
	testetcd.NewTLS(t, st.Layout.PKIDir) // ca.crt and ca.key of its own
	st, _ = discover.Load(st.Layout)
	_, err = harden.Build(st, harden.Options{Bundle: b})
	if err == nil || !strings.Contains(err.Error(), filepath.Join(st.Layout.PKIDir, "ca.crt")+" is not the bundle's etcd CA") {
		t.Errorf("a node with its own CA: %v", err)
	}
	if _, err := harden.ReadBundle(t.TempDir()); !errors.Is(err, harden.ErrNotBundle) {
		t.Errorf("ReadBundle on an empty folder: %v", err)
	}
}

// TestBundleRefusesAKeyOfAnotherCA: a bundle whose CA key is another CA's (two plans'
// folders mixed up) is refused when read, before it signs anything, the file named.
func TestBundleRefusesAKeyOfAnotherCA(t *testing.T) {
	dir := bundleDir(t)
	other, err := os.ReadFile(testetcd.NewTLS(t, t.TempDir()).CAKey)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, filepath.FromSlash(harden.BundleCAKey))
	if err := os.WriteFile(keyFile, other, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = harden.ReadBundle(dir)
	if !errors.Is(err, harden.ErrNotBundle) || !strings.Contains(err.Error(), dir+": secrets/ca.key is not the private key of ca.crt (from another plan?)") {
		t.Errorf("ReadBundle with another CA's key: %v", err)
	}
	if got, _ := os.ReadFile(keyFile); !bytes.Equal(got, other) {
		t.Error("the refused bundle was changed")
	}
}

// TestBundleRefusesABrokenConfig: a bundle whose encryption config was cut short in the
// copy is refused when read, in kube-apiserver's words, the key never quoted.
func TestBundleRefusesABrokenConfig(t *testing.T) {
	dir := bundleDir(t)
	path := filepath.Join(dir, filepath.FromSlash(harden.BundleConfig))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := data[:bytes.Index(data, []byte("secret: "))+len("secret: MTIzNDU2")]
	if err := os.WriteFile(path, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = harden.ReadBundle(dir)
	if !errors.Is(err, harden.ErrNotBundle) || !strings.Contains(err.Error(), path+": kube-apiserver would not start with it") ||
		!strings.Contains(err.Error(), "copy the bundle/ folder again, whole") {
		t.Errorf("ReadBundle with a config cut short: %v", err)
	}
	if strings.Contains(fmt.Sprint(err), "MTIzNDU2") {
		t.Errorf("the message quotes the key: %v", err)
	}
}
