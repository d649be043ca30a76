package certs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/plan"
)

func TestCheckHost(t *testing.T) {
	for _, ok := range []string{"cp1", "CP1", "cp-1.example.com", "10.0.0.5", "fd00::5", "localhost"} {
		if err := CheckHost(ok); err != nil {
			t.Errorf("CheckHost(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"../../evil", "", "a b", "*", "ev_il", "-x", "0.0.0.0", "::", "a/b", strings.Repeat("a", 254)} {
		if err := CheckHost(bad); !errors.Is(err, ErrInvalidHost) {
			t.Errorf("CheckHost(%q) = %v, want ErrInvalidHost", bad, err)
		}
	}
	if err := CheckIP("cp1"); !errors.Is(err, ErrInvalidHost) {
		t.Errorf("CheckIP(cp1) = %v", err)
	}
}

// TestGenerateRefusesBadSANs: every value a SAN is made from is checked, wherever it
// comes from (an option, i.e. a flag or an answers file; etcd.yaml's --name; a URL in
// a manifest), and a refusal adds nothing to the plan.
func TestGenerateRefusesBadSANs(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
		o     GenOptions
		want  []string
	}{
		{"option", nil, GenOptions{NodeName: "../../evil"},
			[]string{`the node name "../../evil" is not a DNS name`, "give the node's name, e.g. cp1 or cp1.example.com"}},
		{"etcd --name", []string{"--name=node1", "--name=../../evil"}, GenOptions{},
			[]string{`etcd.yaml --name "../../evil" is not a DNS name`, "DNS SAN"}},
		{"advertise IP", nil, GenOptions{NodeName: "cp1", AdvertiseIP: "10.0.0.5/../x"},
			[]string{`advertise address "10.0.0.5/../x" is not an IP address`}},
		{"URL host", []string{"--advertise-client-urls=http://127.0.0.1:2379", "--advertise-client-urls=http://ev_il:2379"}, GenOptions{NodeName: "cp1"},
			[]string{`--advertise-client-urls: the host "ev_il" is not a DNS name`, "is not a DNS name", "fix the URL"}},
		{"extra SAN", nil, GenOptions{NodeName: "cp1", ExtraSANs: []string{"a b"}},
			[]string{`extra SAN "a b" is not a DNS name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, s := tree(t, tt.edits...)
			p := plan.New(root)
			tt.o.Now = testNow
			_, err := Generate(p, s, Discover(s), tt.o)
			if !errors.Is(err, ErrInvalidHost) {
				t.Fatalf("Generate = %v, want ErrInvalidHost", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if !p.Empty() {
				t.Errorf("a refused Generate planned %d changes", len(p.Changes))
			}
			if _, err := os.Stat(filepath.Join(root, "etc", "kubernetes", "pki")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the PKI folder exists after a refusal: %v", err)
			}
		})
	}
}

// TestCertFileIsAFolder: a folder where a certificate should be is named as such, not
// blamed on permissions.
func TestCertFileIsAFolder(t *testing.T) {
	root, s := tree(t)
	pki := filepath.Join(root, "etc", "kubernetes", "pki", "etcd")
	if err := os.MkdirAll(filepath.Join(pki, "server.crt"), 0o700); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range Validate(s, Discover(s), testNow) {
		if c.Path != filepath.Join(pki, "server.crt") || c.Name != CheckFile {
			continue
		}
		found = true
		if !strings.Contains(c.Message, "server.crt (the etcd server certificate) is a folder, not a file; expected the etcd server certificate file") ||
			strings.Contains(c.Fix, "root") || !strings.Contains(c.Fix, "move "+filepath.Join(pki, "server.crt")+" out of the way") {
			t.Errorf("check = %+v", c)
		}
	}
	if !found {
		t.Fatal("no file check for server.crt")
	}
}
