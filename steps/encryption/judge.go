package encryption

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Judge is the one verdict on an EncryptionConfiguration: the audit (CIS 1.2.28), the
// plan, the wizard and encryption status all call it, so a config is never fine by one
// path and refused by another. It decodes data strictly (ParseConfig), runs
// kube-apiserver's own loader on it (a config with kms providers goes through the
// apiserver's validation package instead, because the loader dials every KMS v2 socket
// and refuses KMS v1 unless a feature gate is on: KMS v1 providers come back as
// warnings), then makes the checks the loader leaves out (two keys with one name in a
// provider). path names the file in errors; reload mirrors
// --encryption-provider-config-automatic-reload. The error is a *ConfigError wrapping
// ErrInvalidConfig and never holds a secret; the Config is returned whenever data
// decodes, so that its key names can still be read.
func Judge(ctx context.Context, path string, data []byte, reload bool) (*Config, []string, error) {
	c, err := ParseConfig(path, data)
	if err != nil {
		return nil, nil, err
	}
	var warnings []string
	if c.usesKMS() {
		warnings, err = c.validateKMS(reload)
	} else {
		// The file's own bytes, so that what is refused is exactly what kube-apiserver reads.
		var l *loaded
		l, err = loadFile(ctx, path, data, reload)
		if l != nil {
			l.cancel()
		}
	}
	if ce := (*ConfigError)(nil); errors.As(err, &ce) {
		ce.Msg = c.blankSecrets(ce.Reason())
	}
	if err != nil {
		return c, nil, err
	}
	if err := c.checkKeyNames(); err != nil {
		return c, nil, err
	}
	return c, warnings, nil
}

// checkKeyNames refuses a key name used twice in one provider: kube-apiserver starts, but
// it picks the key by the name stored in a value's prefix and always takes the first, so
// values written with the other key cannot be read (and a rotation could not tell them
// apart).
func (c *Config) checkKeyNames() error {
	for _, e := range c.Entries() {
		for _, p := range e.Providers {
			seen := map[string]bool{}
			for _, k := range p.Keys {
				if seen[k] {
					return refused(c.Path, fmt.Errorf("resources %s: the %s provider has two keys named %q; kube-apiserver reads values with the first of them only, so values written with the other could not be read: give each key its own name (or remove the one no value uses)",
						strings.Join(e.Resources, ", "), p.Type, k))
				}
				seen[k] = true
			}
		}
	}
	return nil
}
