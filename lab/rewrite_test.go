package lab_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"
)

// mountEncryptionConfig writes config into <root>/etc/kubernetes/enc/enc.yaml and adds
// the flag, a volumeMount and a hostPath volume to kube-apiserver.yaml, as the wizard
// does. mount=false leaves the volume out.
func mountEncryptionConfig(t *testing.T, root, config string, mount bool) string {
	t.Helper()
	dir := filepath.Join(root, "etc", "kubernetes", "enc")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "enc.yaml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	apiPath := filepath.Join(root, lab.APIServerFile)
	api := readFile(t, apiPath)
	api = strings.Replace(api, "    - kube-apiserver\n", "    - kube-apiserver\n    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n", 1)
	if mount {
		api = strings.Replace(api, "    volumeMounts:\n", "    volumeMounts:\n    - mountPath: /etc/kubernetes/enc\n      name: encryption-config\n      readOnly: true\n", 1)
		api = strings.Replace(api, "  volumes:\n", "  volumes:\n  - hostPath:\n      path: /etc/kubernetes/enc\n      type: DirectoryOrCreate\n    name: encryption-config\n", 1)
	}
	writeFile(t, apiPath, api)
	return path
}

func encryptionConfig(provider string) string {
	key := make([]byte, 32)
	rand.Read(key)
	return fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
      - configmaps
    providers:
      - %s:
          keys:
            - name: key1
              secret: %s
      - identity: {}
`, provider, base64.StdEncoding.EncodeToString(key))
}

func TestRewriteSecrets(t *testing.T) {
	for _, provider := range []string{"aescbc", "aesgcm", "secretbox"} {
		t.Run(provider, func(t *testing.T) {
			l := startLab(t, lab.Options{Secrets: 30, ConfigMaps: 6})
			c := client(t, l)
			before := get(t, c, "/registry/secrets/")
			cfgPath := mountEncryptionConfig(t, l.Root(), encryptionConfig(provider), true)

			var last lab.RewriteProgress
			rep, err := lab.RewriteSecrets(context.Background(), l.Root(), c, func(p lab.RewriteProgress) { last = p })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Config != cfgPath || !strings.Contains(rep.Note, "kubectl replace") {
				t.Errorf("report config %q note %q", rep.Config, rep.Note)
			}
			want := []lab.RewriteResource{{Resource: "secrets", Keys: 30, Rewritten: 30, Stale: 30}, {Resource: "configmaps", Keys: 6, Rewritten: 6, Stale: 6}}
			if fmt.Sprint(rep.Resources) != fmt.Sprint(want) {
				t.Errorf("counts %+v, want %+v", rep.Resources, want)
			}
			if last.Resource != "configmaps" || last.Done != 6 || last.Total != 6 {
				t.Errorf("last progress %+v", last)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cfg, err := encryptionconfig.LoadEncryptionConfig(ctx, cfgPath, false, "test")
			if err != nil {
				t.Fatal(err)
			}
			tr := cfg.Transformers[schema.GroupResource{Resource: "secrets"}]
			after := get(t, c, "/registry/secrets/")
			prefix := []byte("k8s:enc:" + provider + ":v1:key1:")
			for key, v := range after {
				if !bytes.HasPrefix(v, prefix) {
					t.Fatalf("%s starts with %q, want %q", key, v[:min(len(v), len(prefix))], prefix)
				}
				plain, stale, err := tr.TransformFromStorage(ctx, v, value.DefaultContext(key))
				if err != nil || stale || !bytes.Equal(plain, before[key]) {
					t.Fatalf("%s: decrypts to %d bytes (stale %v, err %v), want the original %d bytes", key, len(plain), stale, err, len(before[key]))
				}
			}
			if len(after) != len(before) {
				t.Fatalf("%d Secrets after, %d before", len(after), len(before))
			}

			// Again: everything is current, so nothing is stale.
			rep, err = lab.RewriteSecrets(context.Background(), l.Root(), c, nil)
			if err != nil || rep.Resources[0].Stale != 0 || rep.Resources[0].Rewritten != 30 {
				t.Errorf("second rewrite: %+v, %v", rep, err)
			}
		})
	}
}

func TestRewriteSecretsRefuses(t *testing.T) {
	l := startLab(t, lab.Options{Secrets: 4, ConfigMaps: -1})
	c := client(t, l)
	before := get(t, c, "/registry/secrets/")
	root := l.Root()
	apiPath := filepath.Join(root, lab.APIServerFile)
	original := readFile(t, apiPath)
	kms := `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - kms:
          apiVersion: v2
          name: vault
          endpoint: unix:///var/run/kms.sock
      - identity: {}
`
	cases := []struct {
		name   string
		setup  func()
		is     error
		substr string
	}{
		{"no flag", func() {}, lab.ErrNoEncryptionConfig, "add the flag"},
		{"not mounted", func() { mountEncryptionConfig(t, root, encryptionConfig("secretbox"), false) },
			nil, "is not under any hostPath volume, so kube-apiserver could not read it; add a hostPath volume"},
		{"kms", func() { mountEncryptionConfig(t, root, kms, true) }, lab.ErrKMS, "the lab has no KMS plugin"},
		{"bad key length", func() {
			mountEncryptionConfig(t, root, strings.Replace(encryptionConfig("aesgcm"), "secret: ", "secret: AAAA", 1), true)
		}, nil, "fix the file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, apiPath, original)
			tc.setup()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := lab.RewriteSecrets(ctx, root, c, nil)
			if err == nil || !strings.Contains(err.Error(), tc.substr) || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("err = %v; want %q (is %v)", err, tc.substr, tc.is)
			}
			after := get(t, c, "/registry/secrets/")
			for k, v := range before {
				if !bytes.Equal(after[k], v) {
					t.Fatalf("%s changed although the rewrite was refused", k)
				}
			}
		})
	}
}
