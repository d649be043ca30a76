// Package seal encrypts snapshots with age (filippo.io/age) before they leave the node,
// to public keys only, and opens them again with an identity file. A sealed file is the
// plain age format: the `age` command decrypts it (`age -d -i key.txt file.db.age`).
// It never prints, logs or returns a private key, not even in an error.
package seal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/agessh"
)

// Suffix ends the name of a sealed snapshot: NAME.db.age.
const Suffix = ".age"

// magic starts every age file (the binary format; the armored one is not used here).
const magic = "age-encryption.org/v1\n"

// ErrNotRecipient is wrapped by ParseRecipients' error for a value that is not a public key.
var ErrNotRecipient = errors.New("not an age recipient")

// ErrWrongIdentity is wrapped by Open's error when no identity matches the recipients the
// file was sealed to.
var ErrWrongIdentity = errors.New("no identity matches")

// ErrDamaged is wrapped by a read error of Open's reader when the sealed bytes fail age's
// authentication: they were changed or cut after they were sealed.
var ErrDamaged = errors.New("the sealed data fails age's authentication")

// Recipients are the public keys a snapshot is sealed to.
type Recipients struct {
	keys []string
	list []age.Recipient
}

// ParseRecipients reads the keys of --encrypt-to (values) and --encrypt-to-file (files:
// one key a line, "#" comments and blank lines ignored, as age's -R takes). A key is an
// age public key (age1…, or age1pq1… for the post-quantum hybrid) or an SSH public key
// (ssh-ed25519, ssh-rsa), as age accepts. A private key given by mistake is refused
// without being echoed. No key at all is not an error: Len is 0.
func ParseRecipients(values, files []string) (*Recipients, error) {
	r := &Recipients{}
	for _, v := range values {
		if err := r.add(v); err != nil {
			return nil, fmt.Errorf("--encrypt-to %s: %w", describe(v), err)
		}
	}
	for _, path := range files {
		if err := r.addFile(path); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Recipients) addFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--encrypt-to-file %s: %w; give a file of public keys, one a line", path, err)
	}
	n := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if err := r.add(s); err != nil {
			return fmt.Errorf("--encrypt-to-file %s, line %d (%s): %w", path, line, describe(s), err)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("--encrypt-to-file %s: %w", path, err)
	}
	if n == 0 {
		return fmt.Errorf("--encrypt-to-file %s holds no public key; put one age1… or ssh-… key a line", path)
	}
	return nil
}

func (r *Recipients) add(s string) error {
	s = strings.TrimSpace(s)
	if isPrivate(s) {
		return fmt.Errorf("%w: this is a private key, and it must never be given to the node that seals; give its public key (age-keygen -y KEYFILE)", ErrNotRecipient)
	}
	var (
		rc  age.Recipient
		err error
	)
	switch {
	case strings.HasPrefix(s, "ssh-"):
		rc, err = agessh.ParseRecipient(s)
	case strings.HasPrefix(s, "age1"):
		var rs []age.Recipient
		if rs, err = age.ParseRecipients(strings.NewReader(s)); err == nil && len(rs) != 1 {
			err = errors.New("want exactly one key")
		}
		if err == nil {
			rc = rs[0]
		}
	default:
		return fmt.Errorf("%w: give an age public key (age1…, from age-keygen) or an SSH public key (ssh-ed25519 …, ssh-rsa …)", ErrNotRecipient)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNotRecipient, err)
	}
	r.keys = append(r.keys, publicText(s))
	r.list = append(r.list, rc)
	return nil
}

// isPrivate reports whether s looks like private key material of any kind age knows.
func isPrivate(s string) bool {
	u := strings.ToUpper(s)
	return strings.HasPrefix(u, "AGE-SECRET-KEY-") || strings.HasPrefix(u, "AGE-PLUGIN-") && strings.Contains(u, "SECRET") ||
		strings.Contains(u, "PRIVATE KEY")
}

// describe names a value in an error: a public key in short, never a private one.
func describe(s string) string {
	s = strings.TrimSpace(s)
	if isPrivate(s) {
		return "(a private key, not shown)"
	}
	if len(s) > 24 {
		s = s[:20] + "…"
	}
	return fmt.Sprintf("%q", s)
}

// publicText is how a recipient is shown and written: the key without an SSH comment.
func publicText(s string) string {
	if f := strings.Fields(s); len(f) >= 2 && strings.HasPrefix(f[0], "ssh-") {
		return f[0] + " " + f[1]
	}
	return s
}

// Len is the number of recipients.
func (r *Recipients) Len() int {
	if r == nil {
		return 0
	}
	return len(r.list)
}

// Keys are the recipients' public keys, for a report or a schedule's flags.
func (r *Recipients) Keys() []string {
	if r == nil {
		return nil
	}
	return append([]string(nil), r.keys...)
}

// Short is a key shortened for a line on screen: age1abcd…wxyz.
func Short(key string) string {
	if f := strings.Fields(key); len(f) >= 2 {
		key = f[0] + " " + f[1]
	}
	if len(key) <= 24 {
		return key
	}
	return key[:14] + "…" + key[len(key)-6:]
}

// Writer returns a WriteCloser that seals what is written to it into dst; Close finishes
// the file (it does not close dst).
func (r *Recipients) Writer(dst io.Writer) (io.WriteCloser, error) {
	if r.Len() == 0 {
		return nil, errors.New("no recipient to seal to: pass --encrypt-to or --encrypt-to-file")
	}
	w, err := age.Encrypt(dst, r.list...)
	if err != nil {
		return nil, fmt.Errorf("seal with age: %w", err)
	}
	return w, nil
}

// IsSealed reports whether head, the first bytes of a file, starts an age file.
func IsSealed(head []byte) bool {
	return bytes.HasPrefix(head, []byte(magic))
}

// MagicLen is how many leading bytes IsSealed needs to decide.
const MagicLen = len(magic)
