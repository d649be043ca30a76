package seal

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// Identities are the private keys that open sealed snapshots, read from an --identity
// file. They are kept in memory only, and never shown.
type Identities struct {
	path string
	list []age.Identity
}

// LoadIdentities reads an identity file as `age -d -i` does: age private keys
// (AGE-SECRET-KEY-1…, one a line, "#" comments), or an unencrypted OpenSSH private key
// (ed25519 or RSA). Errors name the file, never its content.
func LoadIdentities(path string) (*Identities, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--identity %s: %w; give the file that holds the private key (made by age-keygen)", path, err)
	}
	ids := &Identities{path: path}
	if bytes.Contains(data, []byte("PRIVATE KEY-----")) {
		id, err := agessh.ParseIdentity(data)
		if err != nil {
			if strings.Contains(err.Error(), "passphrase") {
				return nil, fmt.Errorf("--identity %s is an SSH key protected by a passphrase, which this tool does not ask for; decrypt with `age -d -i %s`, or give an age identity file", path, path)
			}
			return nil, fmt.Errorf("--identity %s: not an SSH private key age can use (ssh-ed25519 or ssh-rsa): %v", path, scrub(err))
		}
		ids.list = []age.Identity{id}
		return ids, nil
	}
	list, err := age.ParseIdentities(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("--identity %s: not an age identity file (AGE-SECRET-KEY-1… lines, as age-keygen writes): %v", path, scrub(err))
	}
	ids.list = list
	return ids, nil
}

// scrub drops anything after a colon that could quote a key from a parser's error.
func scrub(err error) string {
	s := err.Error()
	if i := strings.Index(s, "AGE-SECRET-KEY"); i >= 0 {
		s = s[:i] + "(key not shown)"
	}
	return s
}

// Path is the file the identities came from.
func (ids *Identities) Path() string { return ids.path }

// Open returns a reader of the plaintext of the sealed src. It fails at once, wrapping
// ErrWrongIdentity, when no identity matches the file's recipients; a read error of the
// reader wraps ErrDamaged when the sealed bytes were changed or cut.
func (ids *Identities) Open(src io.Reader) (io.Reader, error) {
	r, err := age.Decrypt(src, ids.list...)
	if err != nil {
		var nomatch *age.NoIdentityMatchError
		if errors.As(err, &nomatch) {
			return nil, fmt.Errorf("%w: the key in %s is not one this snapshot was sealed to (it was sealed to %s keys); use the identity whose public key was given to --encrypt-to",
				ErrWrongIdentity, ids.path, strings.Join(nomatch.StanzaTypes, ", "))
		}
		return nil, fmt.Errorf("%w: its age header cannot be read: %v", ErrDamaged, err)
	}
	return &damageReader{r: r}, nil
}

// damageReader marks age's payload errors as ErrDamaged.
type damageReader struct{ r io.Reader }

func (d *damageReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	return n, err
}
