package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// fileState is what a check needs to know about one file.
type fileState struct {
	data   []byte
	mode   fs.FileMode
	uid    int
	hasUID bool // false when the owner is unknown (a planned file)
	err    error
}

// reader gives the state of a host path: from the disk, or as a plan will leave it.
type reader func(hostPath string) fileState

// Why a path that should hold a file does not.
var (
	errIsFolder   = errors.New("is a folder, not a file")
	errNotRegular = errors.New("is not a regular file")
)

// readDisk reads a file from the disk.
func readDisk(hostPath string) fileState {
	info, err := os.Stat(hostPath)
	if err != nil {
		return fileState{err: err}
	}
	if info.IsDir() {
		return fileState{err: errIsFolder}
	}
	if !info.Mode().IsRegular() {
		return fileState{err: fmt.Errorf("%w (%s)", errNotRegular, info.Mode().Type())}
	}
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return fileState{err: err}
	}
	uid, ok := fileOwner(info)
	return fileState{data: data, mode: info.Mode().Perm(), uid: uid, hasUID: ok}
}

// planReader reads files as p will leave them: planned content first, else the disk.
func planReader(p *plan.Plan, l discover.Layout) reader {
	return func(hostPath string) fileState {
		if c := p.Find(l.Rel(hostPath)); c != nil {
			return fileState{data: c.New, mode: c.Mode.Perm()}
		}
		return readDisk(hostPath)
	}
}

// ErrNoPEM is wrapped by parse errors for files that hold no PEM block of the right kind.
var ErrNoPEM = errors.New("no PEM block")

// ParseCerts returns every CERTIFICATE block of a PEM file, in order.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate #%d does not parse: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE block found: %w", ErrNoPEM)
	}
	return certs, nil
}

// ParseKey parses the first private key block of a PEM file: "RSA PRIVATE KEY"
// (PKCS#1), "EC PRIVATE KEY" (SEC1, after an optional "EC PARAMETERS" block) or
// "PRIVATE KEY" (PKCS#8 holding RSA, ECDSA or Ed25519). Encrypted keys are refused:
// etcd cannot read them.
func ParseKey(data []byte) (crypto.Signer, error) {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil, fmt.Errorf("no private key block (RSA PRIVATE KEY, EC PRIVATE KEY or PRIVATE KEY) found: %w", ErrNoPEM)
		}
		if _, enc := b.Headers["Proc-Type"]; enc || b.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("the key is encrypted with a passphrase, which etcd cannot read")
		}
		var key any
		var err error
		switch b.Type {
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(b.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s block does not parse: %w", b.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case *ecdsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, fmt.Errorf("unsupported key type %T", key)
	}
}

// KeyMatches reports whether key is the private key of cert.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
