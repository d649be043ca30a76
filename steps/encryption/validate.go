package encryption

import (
	"context"
	"fmt"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/apis/apiserver/validation"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
)

// apiServerID is the id the loader's KMS code would use; it is never sent anywhere here.
const apiServerID = "etcd-harden"

// Validate judges the config as written to disk (see Judge); reload mirrors
// --encryption-provider-config-automatic-reload. Warnings are those of Judge.
func (c *Config) Validate(ctx context.Context, reload bool) (warnings []string, err error) {
	data, err := c.YAML("")
	if err != nil {
		return nil, err
	}
	_, warnings, err = Judge(ctx, c.Path, data, reload)
	return warnings, err
}

func (c *Config) usesKMS() bool {
	for _, r := range c.spec.Resources {
		for _, p := range r.Providers {
			if p.KMS != nil {
				return true
			}
		}
	}
	return false
}

func (c *Config) validateKMS(reload bool) ([]string, error) {
	v1 := c.spec.DeepCopy()
	configScheme.Default(v1)
	var internal apiserver.EncryptionConfiguration
	if err := configScheme.Convert(v1, &internal, nil); err != nil {
		return nil, refused(c.Path, err)
	}
	if err := validation.ValidateEncryptionConfiguration(&internal, reload).ToAggregate(); err != nil {
		return nil, refused(c.Path, err)
	}
	if err := checkMasking(&internal); err != nil {
		return nil, refused(c.Path, err)
	}
	var warnings []string
	for _, r := range internal.Resources {
		for _, p := range r.Providers {
			if p.KMS != nil && p.KMS.APIVersion == "v1" {
				warnings = append(warnings, fmt.Sprintf("kms provider %q uses KMS v1, which is deprecated: kube-apiserver starts with it only with --feature-gates=KMSv1=true; move to KMS v2", p.KMS.Name))
			}
		}
	}
	return warnings, nil
}

// checkMasking repeats the one check the loader makes while building transformers: a
// resource listed after a "*.group" or "*.*" rule that already covers it.
func checkMasking(c *apiserver.EncryptionConfiguration) error {
	seen := map[schema.GroupResource]bool{}
	for _, r := range c.Resources {
		for _, res := range r.Resources {
			gr := schema.ParseGroupResource(res)
			for _, w := range []schema.GroupResource{{Group: gr.Group, Resource: "*"}, {Group: "*", Resource: "*"}} {
				if seen[w] {
					return fmt.Errorf("resource %q is masked by earlier rule %q", res, w.Resource+"."+w.Group)
				}
			}
		}
		for _, res := range r.Resources {
			seen[schema.ParseGroupResource(res)] = true
		}
	}
	return nil
}

// loaded is a config the real loader accepted, with its transformers (tests use them to
// encrypt and decrypt) and the cancel that stops the loader's goroutines.
type loaded struct {
	cfg    *encryptionconfig.EncryptionConfiguration
	cancel context.CancelFunc
}

// loadFile runs kube-apiserver's loader on data written to a 0600 temporary file. Errors
// name the file as name, not the temporary path. The caller must call cancel.
func loadFile(ctx context.Context, name string, data []byte, reload bool) (*loaded, error) {
	f, err := os.CreateTemp("", "etcd-harden-encryption-*.yaml")
	if err != nil {
		return nil, fmt.Errorf("write a temporary copy of the encryption config to check it: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, fmt.Errorf("protect temporary file %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, fmt.Errorf("write temporary file %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write temporary file %s: %w", tmp, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	cfg, err := encryptionconfig.LoadEncryptionConfig(ctx, tmp, reload, apiServerID)
	if err != nil {
		cancel()
		if name == "" {
			name = "the generated encryption config"
		}
		return nil, &ConfigError{Path: name, Msg: strings.ReplaceAll(err.Error(), tmp, name), Err: err}
	}
	return &loaded{cfg: cfg, cancel: cancel}, nil
}
