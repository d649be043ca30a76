package encryption

import (
	"fmt"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// ReadsOnly returns the config data with the key that writes put second, so that a
// kube-apiserver started with it reads values written with that key but keeps writing as
// before: in each resource entry, the first provider's first two keys swap when it has
// two or more, else the first provider moves after the second. On a cluster, every
// kube-apiserver must be able to read a new key before any writes with it. The result
// is the same for the same data on every node. A config whose entries have one provider
// with one key has nothing to put second: it is returned as it is.
func ReadsOnly(data []byte) ([]byte, error) {
	var c apiserverv1.EncryptionConfiguration
	if err := sigsyaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("read the encryption config: %w", err)
	}
	changed := false
	for i := range c.Resources {
		ps := c.Resources[i].Providers
		switch {
		case len(ps) == 0:
		case providerKeys(&ps[0]) != nil && len(*providerKeys(&ps[0])) >= 2:
			ks := *providerKeys(&ps[0])
			ks[0], ks[1] = ks[1], ks[0]
			changed = true
		case len(ps) >= 2:
			ps[0], ps[1] = ps[1], ps[0]
			changed = true
		}
	}
	if !changed {
		return data, nil
	}
	return sigsyaml.Marshal(c)
}
