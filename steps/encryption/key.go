package encryption

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
)

// Masked is what a Key shows instead of its value.
const Masked = "••••••••"

// Key is an encryption key in the base64 form the config holds. Every way of printing
// or marshalling it shows Masked; only Reveal gives the value.
type Key struct{ b64 string }

// NewKey reads KeySize bytes from r (crypto/rand when nil).
func NewKey(r io.Reader) (Key, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, KeySize)
	if _, err := io.ReadFull(r, b); err != nil {
		return Key{}, fmt.Errorf("read %d random bytes for the key: %w", KeySize, err)
	}
	return Key{b64: base64.StdEncoding.EncodeToString(b)}, nil
}

// Reveal returns the key in base64, as written in the config. Call it only when the user
// asked to see the key.
func (k Key) Reveal() string { return k.b64 }

// IsZero reports whether there is no key (a KMS provider, or a kept config).
func (k Key) IsZero() bool { return k.b64 == "" }

// String returns Masked ("" for no key).
func (k Key) String() string {
	if k.IsZero() {
		return ""
	}
	return Masked
}

// GoString keeps %#v from printing the key.
func (k Key) GoString() string { return "encryption.Key{" + k.String() + "}" }

// Format keeps every fmt verb from printing the key.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, k.GoString())
		return
	}
	_, _ = io.WriteString(f, k.String())
}

// MarshalJSON writes the masked form.
func (k Key) MarshalJSON() ([]byte, error) { return json.Marshal(k.String()) }

// MarshalText writes the masked form (YAML and other text encoders).
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LogValue keeps log/slog from logging the key.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
