package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
)

func TestKeyTypes(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	pkcs8 := func(k crypto.Signer) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, _ := x509.MarshalECPrivateKey(k)
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	// openssl ecparam -genkey writes the curve first.
	ecParams := append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), sec1(ecKey)...)
	cases := []struct {
		name  string
		key   crypto.Signer
		index int // in the list of other keys
		pem   []byte
	}{
		{"RSA PKCS#1", rsaKey, 0, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)})},
		{"RSA PKCS#8", rsaKey, 0, pkcs8(rsaKey)},
		{"ECDSA SEC1", ecKey, 1, sec1(ecKey)},
		{"ECDSA SEC1 after EC PARAMETERS", ecKey, 1, ecParams},
		{"ECDSA P-384 PKCS#8", ec384, 2, pkcs8(ec384)},
		{"ECDSA PKCS#8", ecKey, 1, pkcs8(ecKey)},
		{"Ed25519 PKCS#8", edKey, 3, pkcs8(edKey)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: tc.name}, NotBefore: testNow, NotAfter: testNow.AddDate(1, 0, 0)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, tc.key.Public(), tc.key)
			if err != nil {
				t.Fatal(err)
			}
			cert, _ := x509.ParseCertificate(der)
			k, err := ParseKey(tc.pem)
			if err != nil {
				t.Fatal(err)
			}
			if !KeyMatches(cert, k) {
				t.Error("key does not match its certificate")
			}
			for i, other := range []crypto.Signer{rsaKey, ecKey, ec384, edKey} {
				if i != tc.index && KeyMatches(cert, other) {
					t.Errorf("matches a %T it was not made with", other)
				}
			}
		})
	}
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte{1}})
	for name, data := range map[string][]byte{
		"encrypted PKCS#1": encrypted,
		"encrypted PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}}),
		"certificate only": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}),
		"garbage":          []byte("not pem"),
		"truncated PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 3, 1}}),
	} {
		if _, err := ParseKey(data); err == nil {
			t.Errorf("%s: parsed", name)
		} else if strings.HasPrefix(name, "encrypted") && !strings.Contains(err.Error(), "etcd cannot read") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
