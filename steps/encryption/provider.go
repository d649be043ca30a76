// Package encryption is step 1 of the wizard: encryption at rest for kube-apiserver. It
// chooses a provider and resources, makes a key, builds a new EncryptionConfiguration or
// rotates the existing one (new key first, old keys kept for reads, identity last), checks
// the result with kube-apiserver's own loader, and adds the file and the manifest edits to
// a plan. Status scans etcd to count how values are stored, key by key.
package encryption

import (
	"fmt"
	"strings"
	"time"
)

// Provider is an encryption provider of an EncryptionConfiguration.
type Provider string

// Providers a user can choose, plus identity, the plaintext read fallback.
const (
	Secretbox Provider = "secretbox"
	AESGCM    Provider = "aesgcm"
	AESCBC    Provider = "aescbc"
	KMS       Provider = "kms"
	Identity  Provider = "identity"
)

// Defaults used when Options leave a field empty.
const (
	// DefaultConfigPath is where the config lives inside the kube-apiserver container
	// (and, mounted as is, on the node).
	DefaultConfigPath = "/etc/kubernetes/enc/encryption-config.yaml"
	// DefaultVolumeName names the hostPath volume that mounts the config's folder.
	DefaultVolumeName = "etcd-encryption"
	// KeySize is the length of a generated key in bytes (AES-256, secretbox).
	KeySize = 32
)

// DefaultResources are the resources encrypted when the user picks none.
var DefaultResources = []string{"secrets"}

// Choices returns the providers a user can pick, in the order to offer them.
func Choices() []Provider { return []Provider{Secretbox, AESGCM, AESCBC, KMS} }

// ResourceChoices returns the resources to offer besides custom entries.
func ResourceChoices() []string { return []string{"secrets", "configmaps"} }

// ProviderInfo returns a short label, the guidance to show next to the choice and whether
// the provider is the recommended one.
func ProviderInfo(p Provider) (label, guidance string, recommended bool) {
	switch p {
	case Secretbox:
		return "secretbox (XSalsa20-Poly1305)",
			"Recommended: authenticated encryption with a 32-byte key, fast and without the AES caveats.", true
	case AESGCM:
		return "aesgcm (AES-GCM)",
			"Fast, but the Kubernetes docs ask for a new key every 200,000 writes: choose it only when key rotation is automated.", false
	case AESCBC:
		return "aescbc (AES-CBC)",
			"Weak per the Kubernetes docs (open to padding-oracle attacks): choose it only when FIPS rules require AES or a lab guide asks for it.", false
	case KMS:
		return "kms v2 (external plugin)",
			"Envelope encryption through a KMS v2 plugin on a local unix socket: the key stays in your KMS and rotates there. Needs the plugin's name and endpoint; no key is made here.", false
	case Identity:
		return "identity (no encryption)",
			"Stores values in plaintext; kept only as the last provider so that values written before encryption can still be read.", false
	}
	return string(p), "Unknown provider.", false
}

// ParseProvider returns the provider named s ("secretbox", "aesgcm", "aescbc", "kms").
func ParseProvider(s string) (Provider, error) {
	p := Provider(strings.ToLower(strings.TrimSpace(s)))
	for _, c := range Choices() {
		if p == c {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown encryption provider %q: choose one of secretbox, aesgcm, aescbc, kms", s)
}

// DefaultKeyName returns "key-<YYYYMMDD>" for the day of now in UTC.
func DefaultKeyName(now time.Time) string { return "key-" + now.UTC().Format("20060102") }
