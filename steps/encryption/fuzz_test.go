package encryption

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// placeholder marks where FuzzEncryptionConfig puts the fuzzed secret in a config.
const placeholder = "SECRET"

var secretField = regexp.MustCompile(`(secret"?\s*:\s*)("[^"\n]*"|[^\s,}\n]+)`)

// base64ish is the alphabet of real keys: a secret made of it is key material.
var base64ish = regexp.MustCompile(`^[A-Za-z0-9+/]{16,}={0,2}$`)

// FuzzEncryptionConfig feeds Judge, the one reader of EncryptionConfigurations, with
// mutated configs whose secret fields hold a fuzzed secret. Properties: it never panics;
// a config it accepts is accepted again after a rewrite (YAML) and with stand-in keys
// (StandInYAML), with the same summary; a config it refuses is refused with stand-in
// keys too; no error message holds the secret.
func FuzzEncryptionConfig(f *testing.F) {
	for _, c := range []string{secretboxFirst, identityFirst, kmsFirst, wildcard} {
		f.Add(strings.NewReplacer("KEY32", placeholder, "KEY16", placeholder).Replace(c), key32)
		f.Add(strings.NewReplacer("KEY32", placeholder, "KEY16", placeholder).Replace(c), key16)
	}
	f.Add(strings.Replace(secretboxFirst, "KEY32", placeholder+"}, {name: key-20250607, secret: "+placeholder, 1), key32)
	corpus := filepath.Join("..", "..", "..", "shared", "corpus", "encryption")
	files, _ := os.ReadDir(corpus) // absent outside the project's workspace: no seeds from it
	for _, e := range files {
		data, err := os.ReadFile(filepath.Join(corpus, e.Name()))
		if err == nil {
			f.Add(secretField.ReplaceAllString(string(data), "${1}"+placeholder), key32)
		}
	}
	f.Fuzz(func(t *testing.T, tmpl, secret string) {
		data := []byte(strings.ReplaceAll(tmpl, placeholder, secret))
		ctx := context.Background()
		c, _, err := Judge(ctx, "fuzz.yaml", data, false)
		// The secret must stay hidden only where it is one: in a key's secret field, not
		// where the fuzzer moved the placeholder to a kind or a key's name.
		secretOnly := base64ish.MatchString(secret) && !strings.Contains(tmpl, secret) && strings.Contains(tmpl, placeholder) &&
			!strings.Contains(secretField.ReplaceAllString(tmpl, "${1}"), placeholder)
		if err != nil && secretOnly && strings.Contains(err.Error(), secret) {
			t.Fatalf("the error holds the secret: %v", err)
		}
		if c == nil {
			return
		}
		stand, serr := c.StandInYAML()
		if serr != nil {
			t.Fatalf("stand-in: %v", serr)
		}
		s, _, standErr := Judge(ctx, "fuzz.yaml", stand, false)
		if (err == nil) != (standErr == nil) {
			t.Fatalf("verdict %v, with stand-in keys %v\n%s", err, standErr, data)
		}
		if secretOnly && onlyInSecrets(c, data, secret) && strings.Contains(string(stand), secret) {
			t.Fatal("the stand-in config holds the secret")
		}
		if err != nil {
			return
		}
		again, aerr := c.YAML("")
		if aerr != nil {
			t.Fatal(aerr)
		}
		r, _, rerr := Judge(ctx, "fuzz.yaml", again, false)
		if rerr != nil {
			t.Fatalf("accepted, then refused once rewritten: %v\n%s\n---\n%s", rerr, data, again)
		}
		if r.Summary() != c.Summary() || s.Summary() != c.Summary() {
			t.Fatalf("summaries differ: %s / %s / %s", c.Summary(), r.Summary(), s.Summary())
		}
	})
}

// onlyInSecrets tells whether every copy of secret in data is part of a key's secret, so
// the stand-in config must hold none: a fuzzed secret may also land in a key's name,
// which the stand-in rightly keeps.
func onlyInSecrets(c *Config, data []byte, secret string) bool {
	n := 0
	for i := range c.spec.Resources {
		for j := range c.spec.Resources[i].Providers {
			if keys := providerKeys(&c.spec.Resources[i].Providers[j]); keys != nil {
				for _, k := range *keys {
					n += strings.Count(k.Secret, secret)
				}
			}
		}
	}
	return n >= strings.Count(string(data), secret)
}
