package lab

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
	"github.com/etcd-harden/etcd-harden/steps/certs"
)

// GuideConfig is where the widely copied guide has the encryption config written (the
// Kubernetes docs' example path).
const GuideConfig = "/etc/kubernetes/enc/enc.yaml"

// breakWithGuide does what the guide says: an aescbc config at GuideConfig, and
// --encryption-provider-config in etcd.yaml. etcd refuses the flag; breakWithGuide
// returns once the lab has seen it fail.
func (l *Lab) breakWithGuide(*Record) error {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	config := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources:\n      - secrets\n    providers:\n      - aescbc:\n          keys:\n            - name: key1\n              secret: " +
		base64.StdEncoding.EncodeToString(secret) + "\n      - identity: {}\n"
	host := filepath.Join(l.root, filepath.FromSlash(GuideConfig))
	if err := os.MkdirAll(filepath.Dir(host), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(host, []byte(config), 0o600, atomicfile.Options{}); err != nil {
		return err
	}
	path := filepath.Join(l.root, filepath.FromSlash(EtcdManifest))
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	const first = "    - etcd\n"
	if !bytes.Contains(data, []byte(first)) {
		return fmt.Errorf("%s: no %q line to put the guide's flag after", path, first)
	}
	data = bytes.Replace(data, []byte(first), []byte(first+"    - --encryption-provider-config="+GuideConfig+"\n"), 1)
	if err := atomicfile.Write(path, data, 0o600, atomicfile.Options{}); err != nil {
		return err
	}
	return l.waitFailed(30 * time.Second)
}

// waitFailed waits for the lab to report etcd failing (Start's caller reads no event
// before Start returns).
func (l *Lab) waitFailed(d time.Duration) error {
	timeout := time.After(d)
	for {
		select {
		case e := <-l.events:
			if e.Kind == EtcdFailed {
				return nil
			}
		case <-timeout:
			return fmt.Errorf("etcd did not fail within %s after the guide's flag was put into etcd.yaml", d)
		}
	}
}

// ageCertificates re-signs the server certificate to expire in 3 days and the peer
// certificate to have expired yesterday, with the same keys, names and CA.
func (l *Lab) ageCertificates() error {
	now := time.Now()
	if err := l.resign("server.crt", func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = now.AddDate(-1, 0, 3), now.Add(3*24*time.Hour)
	}); err != nil {
		return err
	}
	return l.resign("peer.crt", func(c *x509.Certificate) {
		c.NotBefore, c.NotAfter = now.AddDate(-1, 0, -1), now.Add(-24*time.Hour)
	})
}

// dropIPSANs re-signs the server certificate for the node's names only.
func (l *Lab) dropIPSANs() error {
	return l.resign("server.crt", func(c *x509.Certificate) { c.IPAddresses = nil })
}

// backupInDataDir makes the backup folder a careless setup puts inside etcd's data dir.
func (l *Lab) backupInDataDir() error {
	return os.MkdirAll(filepath.Join(l.root, filepath.FromSlash(EtcdDataDir), "backups"), 0o700)
}

// resign re-issues the certificate name in the etcd PKI folder from its own template
// changed by change, signed by the etcd CA. etcd reads its certificate files on every
// handshake, so the running etcd serves the new one at once.
func (l *Lab) resign(name string, change func(*x509.Certificate)) error {
	dir := filepath.Join(l.root, filepath.FromSlash(EtcdPKIDir))
	ca, caKey, err := readPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		return err
	}
	path := filepath.Join(dir, name)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	cs, err := certs.ParseCerts(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmpl := cs[0]
	if tmpl.SerialNumber, err = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62)); err != nil {
		return err
	}
	change(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, tmpl.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("re-sign %s: %w", path, err)
	}
	return atomicfile.Write(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644, atomicfile.Options{})
}

func readPair(certPath, keyPath string) (*x509.Certificate, any, error) {
	data, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	cs, err := certs.ParseCerts(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	keyData, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	key, err := certs.ParseKey(keyData)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	return cs[0], key, nil
}
