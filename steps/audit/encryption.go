package audit

import (
	"fmt"
	"os"
	"slices"
	"strings"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// Provider names as they appear in an EncryptionConfiguration.
const (
	ProviderAESCBC    = "aescbc"
	ProviderAESGCM    = "aesgcm"
	ProviderSecretbox = "secretbox"
	ProviderKMS       = "kms"
	ProviderIdentity  = "identity"
)

// ProviderName returns the name of the provider set in p ("secretbox", "kms", ...), ""
// when none of the known ones is set.
func ProviderName(p apiserverv1.ProviderConfiguration) string {
	switch {
	case p.AESGCM != nil:
		return ProviderAESGCM
	case p.AESCBC != nil:
		return ProviderAESCBC
	case p.Secretbox != nil:
		return ProviderSecretbox
	case p.Identity != nil:
		return ProviderIdentity
	case p.KMS != nil:
		return ProviderKMS
	}
	return ""
}

// ReadEncryptionConfig reads and decodes an EncryptionConfiguration (or the legacy
// EncryptionConfig) file, YAML or JSON. It does not validate keys: the encryption step
// loads configs through k8s.io/apiserver for that.
func ReadEncryptionConfig(path string) (*apiserverv1.EncryptionConfiguration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read the encryption config %s: %w", path, err)
	}
	var c apiserverv1.EncryptionConfiguration
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("encryption config %s is not valid YAML: %w", path, err)
	}
	if c.Kind != "EncryptionConfiguration" && c.Kind != "EncryptionConfig" {
		return nil, fmt.Errorf("%s is not an EncryptionConfiguration (kind: %q)", path, c.Kind)
	}
	return &c, nil
}

// coversSecrets reports whether a resources list names Secrets, directly or through a
// core-group wildcard.
func coversSecrets(resources []string) bool {
	return slices.ContainsFunc(resources, func(r string) bool { return r == "secrets" || r == "*.*" || r == "*." })
}

// judgeFirst rates the first provider of one resources entry.
func judgeFirst(p apiserverv1.ProviderConfiguration, secrets bool) (Status, string) {
	switch name := ProviderName(p); name {
	case ProviderSecretbox:
		return Pass, "secretbox first"
	case ProviderKMS:
		if p.KMS.APIVersion == "v2" {
			return Pass, "kms v2 first (" + p.KMS.Name + ")"
		}
		return Warn, "kms v1 first (" + p.KMS.Name + "): KMS v1 is deprecated and off by default since Kubernetes 1.29; move to kms v2"
	case ProviderAESGCM:
		return Warn, "aesgcm first: its key must be rotated every 200,000 writes (random nonces); prefer secretbox or kms v2"
	case ProviderAESCBC:
		return Warn, "aescbc first: CBC is weak (padding-oracle prone) and no longer recommended; prefer secretbox or kms v2"
	case ProviderIdentity:
		if secrets {
			return Fail, "identity first: new writes are stored in plain text"
		}
		return Warn, "identity first: stored in plain text"
	default:
		return Fail, "first provider is not one etcd-harden knows (aescbc, aesgcm, secretbox, kms, identity)"
	}
}

func (a *auditor) encryptionProviders() result {
	m := a.s.APIServer
	if m == nil {
		return a.apiNotFound()
	}
	fixFlag := fmt.Sprintf("Run the encryption step, or write an EncryptionConfiguration with secretbox (or kms v2) first for secrets and set --encryption-provider-config to it in %s", m.Path)
	value, host, ok, mapped := m.FlagPath("encryption-provider-config")
	if !ok {
		return result{status: Fail, detail: "--encryption-provider-config is not set: nothing is encrypted", fix: fixFlag, target: m.Path}
	}
	if !mapped {
		return result{status: Fail, detail: fmt.Sprintf("--encryption-provider-config=%s is not on a hostPath volume of the kube-apiserver pod, so kube-apiserver cannot read it", value),
			fix: fmt.Sprintf("In %s add a hostPath volume and a volumeMount (readOnly) for %s", m.Path, value), target: m.Path}
	}
	c, err := ReadEncryptionConfig(host)
	if err != nil {
		return result{status: Fail, detail: err.Error(), fix: "Fix or restore " + host + ", or run the encryption step to write a new one", target: host}
	}
	status, parts, secrets := Pass, []string{}, false
	for _, rc := range c.Resources {
		names := strings.Join(rc.Resources, ", ")
		covers := coversSecrets(rc.Resources)
		secrets = secrets || covers
		if len(rc.Providers) == 0 {
			status = worse(status, Fail)
			parts = append(parts, names+": no providers")
			continue
		}
		st, why := judgeFirst(rc.Providers[0], covers)
		status = worse(status, st)
		parts = append(parts, names+": "+why)
	}
	if !secrets {
		status = worse(status, Fail)
		parts = append(parts, "no entry covers secrets: Secrets are stored in plain text")
	}
	r := result{status: status, detail: strings.Join(parts, "; "), target: host}
	if status != Pass {
		r.fix = fmt.Sprintf("In %s put secretbox (or kms v2) first for every resource, keeping the old providers after it for reads; the encryption step rotates an existing config this way", host)
	}
	return r
}

// worse returns the more severe of two statuses.
func worse(a, b Status) Status {
	rank := map[Status]int{Pass: 0, Warn: 1, Fail: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}
