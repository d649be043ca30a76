package lab

import (
	"fmt"
	"os"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// configKeys lists every key of the encryption config at path, secrets hashed.
func configKeys(path string) ([]KeyRecord, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the encryption config: %w", err)
	}
	var cfg apiserverv1.EncryptionConfiguration
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []KeyRecord
	for _, r := range cfg.Resources {
		for _, p := range r.Providers {
			for _, aes := range []struct {
				name string
				c    *apiserverv1.AESConfiguration
			}{{"aescbc", p.AESCBC}, {"aesgcm", p.AESGCM}} {
				if aes.c != nil {
					for _, k := range aes.c.Keys {
						out = append(out, KeyRecord{Provider: aes.name, Name: k.Name, SecretSHA256: hexSHA256([]byte(k.Secret))})
					}
				}
			}
			if p.Secretbox != nil {
				for _, k := range p.Secretbox.Keys {
					out = append(out, KeyRecord{Provider: "secretbox", Name: k.Name, SecretSHA256: hexSHA256([]byte(k.Secret))})
				}
			}
		}
	}
	return out, nil
}
