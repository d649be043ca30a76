package seal

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/ssh"
)

// plainFile writes n random bytes into dir/name.db.
func plainFile(t *testing.T, dir string, n int) (string, []byte) {
	t.Helper()
	data := make([]byte, n)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "etcd-snapshot-x.db")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, data
}

// identityFile writes a fresh X25519 identity (a throw-away test key) and returns its path
// and public key.
func identityFile(t *testing.T, dir string) (string, string) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "throwaway-test-identity.txt")
	if err := os.WriteFile(p, []byte("# test key\n"+id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p, id.Recipient().String()
}

func TestSealAndOpenRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 3<<20 + 17} {
		dir := t.TempDir()
		idPath, pub := identityFile(t, dir)
		rs, err := ParseRecipients([]string{pub}, nil)
		if err != nil {
			t.Fatal(err)
		}
		plain, data := plainFile(t, dir, n)
		s, err := rs.SealFile(context.Background(), plain)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(s.Path)
		if err != nil || fi.Size() != s.Size || fi.Mode().Perm() != 0o600 || s.PlainSize != int64(n) {
			t.Fatalf("n=%d: sealed %+v, stat %v %v", n, s, fi, err)
		}
		if _, err := os.Stat(s.Path + ".part"); !os.IsNotExist(err) {
			t.Fatalf(".part left behind: %v", err)
		}
		ids, err := LoadIdentities(idPath)
		if err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(s.Path)
		out := filepath.Join(dir, "back.db")
		m, sum, err := ids.OpenTo(context.Background(), f, out)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		back, _ := os.ReadFile(out)
		if m != int64(n) || sum != s.PlainSHA256 || !bytes.Equal(back, data) {
			t.Fatalf("n=%d: round trip gave %d bytes, sum %s want %s", n, m, sum, s.PlainSHA256)
		}
	}
}

// The real age command opens what SealFile wrote, with the matching identity.
func TestAgeCommandDecrypts(t *testing.T) {
	bin := findAge(t)
	dir := t.TempDir()
	idPath, pub := identityFile(t, dir)
	rs, err := ParseRecipients([]string{pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, data := plainFile(t, dir, 200<<10)
	s, err := rs.SealFile(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-d", "-i", idPath, s.Path).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if !bytes.Equal(out, data) {
		t.Fatal("age -d gave other bytes")
	}
}

func findAge(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("age"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "age")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Skip("the age command is not installed (go install filippo.io/age/cmd/...@v1.3.2; .ci/run does)")
	return ""
}

// An SSH ed25519 key works as recipient and identity, as age allows.
func TestSSHKeys(t *testing.T) {
	dir := t.TempDir()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "throw-away test key")
	if err != nil {
		t.Fatal(err)
	}
	idPath := filepath.Join(dir, "throwaway_test_ed25519")
	if err := os.WriteFile(idPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " ops@example"
	rs, err := ParseRecipients([]string{line}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if k := rs.Keys()[0]; strings.Contains(k, "ops@example") || !strings.HasPrefix(k, "ssh-ed25519 ") {
		t.Fatalf("key shown as %q, want the key without its comment", k)
	}
	plain, data := plainFile(t, dir, 1000)
	s, err := rs.SealFile(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := LoadIdentities(idPath)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(s.Path)
	defer f.Close()
	if _, _, err := ids.OpenTo(context.Background(), f, filepath.Join(dir, "back.db")); err != nil {
		t.Fatal(err)
	}
	back, _ := os.ReadFile(filepath.Join(dir, "back.db"))
	if !bytes.Equal(back, data) {
		t.Fatal("ssh round trip gave other bytes")
	}
}

func TestRecipientsRefused(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	secret := id.String()
	for _, tc := range []struct{ value, want string }{
		{"hello", "give an age public key"},
		{"age1notakey", "not an age recipient"},
		{"ssh-ed25519 AAAAnotbase64", "not an age recipient"},
		{secret, "this is a private key"},
	} {
		_, err := ParseRecipients([]string{tc.value}, nil)
		if err == nil || !errors.Is(err, ErrNotRecipient) || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%.12s: error %v, want %q", tc.value, err, tc.want)
		}
		if strings.Contains(err.Error(), secret[15:]) {
			t.Fatalf("the error quotes the private key: %v", err)
		}
	}
	// A recipients file: comments and blank lines are skipped, a bad line is named.
	dir := t.TempDir()
	_, pub := identityFile(t, dir)
	good := filepath.Join(dir, "recipients.txt")
	os.WriteFile(good, []byte("# ops team\n\n"+pub+"\n"), 0o600)
	if rs, err := ParseRecipients(nil, []string{good}); err != nil || rs.Len() != 1 {
		t.Fatalf("recipients file: %v", err)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte(pub+"\n"+secret+"\n"), 0o600)
	_, err := ParseRecipients(nil, []string{bad})
	if err == nil || !strings.Contains(err.Error(), "line 2") || strings.Contains(err.Error(), secret[15:]) {
		t.Fatalf("bad recipients file: %v", err)
	}
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("# nobody\n"), 0o600)
	if _, err := ParseRecipients(nil, []string{empty}); err == nil || !strings.Contains(err.Error(), "holds no public key") {
		t.Fatalf("empty recipients file: %v", err)
	}
}

func TestWrongIdentityAndTampering(t *testing.T) {
	dir := t.TempDir()
	_, pub := identityFile(t, dir)
	otherDir := t.TempDir()
	otherID, _ := identityFile(t, otherDir)
	rs, _ := ParseRecipients([]string{pub}, nil)
	plain, _ := plainFile(t, dir, 300<<10)
	s, err := rs.SealFile(context.Background(), plain)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := LoadIdentities(otherID)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(s.Path)
	out := filepath.Join(dir, "out.db")
	_, _, err = wrong.OpenTo(context.Background(), f, out)
	f.Close()
	if !errors.Is(err, ErrWrongIdentity) || !strings.Contains(err.Error(), otherID) {
		t.Fatalf("wrong identity: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatal("a file was left for a wrong identity")
	}

	// One byte changed in the payload: age's authentication fails, nothing is left.
	idPath := filepath.Join(dir, "throwaway-test-identity.txt")
	right, _ := LoadIdentities(idPath)
	data, _ := os.ReadFile(s.Path)
	data[len(data)/2] ^= 0x40
	tampered := filepath.Join(dir, "tampered.age")
	os.WriteFile(tampered, data, 0o600)
	f, _ = os.Open(tampered)
	_, _, err = right.OpenTo(context.Background(), f, out)
	f.Close()
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "do not restore") {
		t.Fatalf("tampered: %v", err)
	}
	for _, p := range []string{out, out + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s left after a tampered file", p)
		}
	}
}

func TestIdentityFileErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.txt")
	os.WriteFile(p, []byte("AGE-SECRET-KEY-1NOTREALLYAKEY\n"), 0o600)
	_, err := LoadIdentities(p)
	if err == nil || strings.Contains(err.Error(), "NOTREALLYAKEY") {
		t.Fatalf("bad identity file: %v (must not quote it)", err)
	}
	if _, err := LoadIdentities(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--identity") {
		t.Fatalf("missing identity file: %v", err)
	}
}
