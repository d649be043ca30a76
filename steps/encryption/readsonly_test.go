package encryption

import (
	"strings"
	"testing"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestReadsOnly: the key that writes goes second, so a kube-apiserver reads it and
// writes as before; the result is the same on every node for the same config.
func TestReadsOnly(t *testing.T) {
	const k1, k2 = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=", "YWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXoxMjM0NTY="
	for _, tc := range []struct {
		name, config string
		first        func(apiserverv1.ProviderConfiguration) string
		want         string
	}{
		{"new config: identity reads first", `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox:
      keys:
      - name: new
        secret: ` + k1 + `
  - identity: {}
`, func(p apiserverv1.ProviderConfiguration) string {
			if p.Identity != nil {
				return "identity"
			}
			return "secretbox"
		}, "identity"},
		{"rotation: the old key writes, the new one reads", `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - secretbox:
      keys:
      - name: new
        secret: ` + k1 + `
      - name: old
        secret: ` + k2 + `
  - identity: {}
`, func(p apiserverv1.ProviderConfiguration) string { return p.Secretbox.Keys[0].Name }, "old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ReadsOnly([]byte(tc.config))
			if err != nil {
				t.Fatal(err)
			}
			var c apiserverv1.EncryptionConfiguration
			if err := sigsyaml.UnmarshalStrict(out, &c); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got := tc.first(c.Resources[0].Providers[0]); got != tc.want {
				t.Errorf("writes with %s, want %s:\n%s", got, tc.want, out)
			}
			if again, _ := ReadsOnly([]byte(tc.config)); string(again) != string(out) {
				t.Error("two calls on the same config differ")
			}
			if _, err := ParseConfig("reads-only", out); err != nil {
				t.Errorf("kube-apiserver would refuse the result: %v", err)
			}
		})
	}
	if _, err := ReadsOnly([]byte("kind: EncryptionConfiguration\nresources: [{bogus: 1}]\n")); err == nil || !strings.Contains(err.Error(), "read the encryption config") {
		t.Errorf("an unknown field: %v", err)
	}
}
