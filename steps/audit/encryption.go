package audit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/encryption"
)

// coversSecrets reports whether a resources list names Secrets, directly or through a
// core-group wildcard.
func coversSecrets(resources []string) bool {
	return slices.ContainsFunc(resources, func(r string) bool { return r == "secrets" || r == "*.*" || r == "*." })
}

// judgeFirst rates the first provider of one resources entry.
func judgeFirst(p encryption.ProviderRef, secrets bool) (Status, string) {
	switch p.Type {
	case encryption.Secretbox:
		return Pass, "secretbox first"
	case encryption.KMS:
		if p.KMSVersion == "v2" {
			return Pass, "kms v2 first (" + p.Name + ")"
		}
		return Warn, "kms v1 first (" + p.Name + "): KMS v1 is deprecated and off by default since Kubernetes 1.29; move to kms v2"
	case encryption.AESGCM:
		return Warn, "aesgcm first: its key must be rotated every 200,000 writes (random nonces); prefer secretbox or kms v2"
	case encryption.AESCBC:
		return Warn, "aescbc first: CBC is weak (padding-oracle prone) and no longer recommended; prefer secretbox or kms v2"
	case encryption.Identity:
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
	data, err := os.ReadFile(host)
	if err != nil {
		return result{status: Fail, detail: fmt.Sprintf("cannot read the encryption config %s: %v", host, err), fix: "Restore " + host + " (kube-apiserver does not start without it), or run the encryption step to write a new one", target: host}
	}
	reload, _ := m.Flag("encryption-provider-config-automatic-reload")
	c, _, err := encryption.Judge(context.Background(), host, data, reload == "true")
	if err != nil {
		detail := err.Error()
		if ce, ok := errors.AsType[*encryption.ConfigError](err); ok {
			detail = "kube-apiserver would not start with " + host + ": " + ce.Reason()
		}
		return result{status: Fail, detail: detail, target: host,
			fix: "Fix " + host + " as the reason says, keeping every key in it (values in etcd may need them); etcd-harden plan refuses to plan over it until it is fixed"}
	}
	status, parts, secrets := Pass, []string{}, false
	for _, rc := range c.Entries() {
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
