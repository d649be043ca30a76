package encryption

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	enc "github.com/etcd-harden/etcd-harden/steps/encryption"
)

// Answer keys of the encryption step, as the answers file and flags spell them.
const (
	// KeyProvider is the provider of the new key: secretbox, aesgcm, aescbc or kms.
	KeyProvider = "encryption.provider"
	// KeyResources are the resources to encrypt, comma-separated (secrets, configmaps).
	KeyResources = "encryption.resources"
	// KeyCustom are more resources, comma-separated, as kubectl api-resources names
	// them ("pandas.awesome.bears.example"); may be empty.
	KeyCustom = "encryption.custom"
	// KeyKeyName names the new key (default key-YYYYMMDD); not used with kms.
	KeyKeyName = "encryption.keyName"
	// KeyRotate is "true" to add a new key to an existing config, "false" to keep it;
	// only asked when kube-apiserver already has a config.
	KeyRotate = "encryption.rotate"
	// KeyRetireKeys are old keys to remove from the config, comma-separated, by name or
	// provider:name; each goes only once a scan of etcd shows no value stored with it.
	KeyRetireKeys = "encryption.retireKeys"
	// KeyAutoReload is "true" to add --encryption-provider-config-automatic-reload.
	KeyAutoReload = "encryption.autoReload"
	// KeyKMSName is the KMS v2 plugin's name (kms only).
	KeyKMSName = "encryption.kmsName"
	// KeyKMSEndpoint is the KMS v2 plugin's socket, unix:///... (kms only).
	KeyKMSEndpoint = "encryption.kmsEndpoint"
)

// AnswerKeys lists every answer key of the step, in the order the questions come.
var AnswerKeys = []string{KeyProvider, KeyKMSName, KeyKMSEndpoint, KeyResources, KeyCustom,
	KeyKeyName, KeyRotate, KeyRetireKeys, KeyAutoReload}

// answers are the user's choices, bound to the form's fields.
type answers struct {
	provider    enc.Provider
	resources   []string // from the multi-select
	custom      string   // comma-separated extra resources
	keyName     string
	rotate      bool
	retire      []string // keys to retire: those the scan proves unused, or named in the answers
	autoReload  bool
	kmsName     string
	kmsEndpoint string
}

// allResources merges the multi-select and the custom entries, without duplicates.
func (a answers) allResources() []string {
	out := slices.Clone(a.resources)
	for _, r := range splitList(a.custom) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// splitList splits a comma-separated answer, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// prefill copies the answers given in advance; a value the step cannot use is an error
// naming the key and what it takes.
func (a *answers) prefill(given map[string]string) error {
	for _, k := range AnswerKeys {
		v, ok := given[k]
		if !ok {
			continue
		}
		if err := a.set(k, v); err != nil {
			return fmt.Errorf("answer %s=%q: %w", k, v, err)
		}
	}
	return nil
}

func (a *answers) set(k, v string) error {
	var err error
	switch k {
	case KeyProvider:
		a.provider, err = enc.ParseProvider(v)
	case KeyResources:
		a.resources = splitList(v)
	case KeyCustom:
		a.custom = v
	case KeyKeyName:
		a.keyName = strings.TrimSpace(v)
	case KeyRotate:
		a.rotate, err = parseBool(v)
	case KeyRetireKeys:
		a.retire, err = splitList(v), validRetireKeys(v)
	case KeyAutoReload:
		a.autoReload, err = parseBool(v)
	case KeyKMSName:
		a.kmsName = strings.TrimSpace(v)
	case KeyKMSEndpoint:
		a.kmsEndpoint = strings.TrimSpace(v)
	}
	return err
}

func parseBool(v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("want true or false")
	}
	return b, nil
}

// record writes the answers back into the session, so that later steps and a saved
// answers file see what was chosen. retireAsked says the form offered keys to retire: an
// empty choice is then recorded too, so a run from the saved file is not asked again.
func (a answers) record(m map[string]string, retireAsked bool) {
	m[KeyProvider] = string(a.provider)
	m[KeyResources] = strings.Join(a.resources, ",")
	m[KeyCustom] = a.custom
	m[KeyRotate] = strconv.FormatBool(a.rotate)
	if len(a.retire) > 0 || retireAsked {
		m[KeyRetireKeys] = strings.Join(a.retire, ",")
	} else {
		delete(m, KeyRetireKeys)
	}
	m[KeyAutoReload] = strconv.FormatBool(a.autoReload)
	if a.provider == enc.KMS {
		m[KeyKMSName], m[KeyKMSEndpoint] = a.kmsName, a.kmsEndpoint
		delete(m, KeyKeyName)
	} else {
		m[KeyKeyName] = a.keyName
		delete(m, KeyKMSName)
		delete(m, KeyKMSEndpoint)
	}
}
