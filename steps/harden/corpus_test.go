package harden

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/discover"
)

var corpus = filepath.Join("..", "..", "..", "shared", "corpus")

// refused are the corpus files that are not manifests the kubelet would run.
var refused = map[string]bool{
	"eugenpro-cka__elided-snippet-inline-comment-no-eol.yaml":                               true,
	"openshift-cluster-etcd-operator__bootstrap-gotemplate-two-containers-shell-flags.yaml": true,
	"mstelles-cks__kubeadm-1.21-encryption-broken-volume.yaml":                              true,
}

// TestCorpus plans every real etcd manifest of the corpus with the repo's unhardened
// kube-apiserver.yaml, and every real kube-apiserver manifest with the repo's unhardened
// etcd.yaml. A pair that discover reads gives a plan whose patch applies; one it
// refuses (a template, an elided file) gives an error naming that file.
func TestCorpus(t *testing.T) {
	if _, err := os.Stat(corpus); err != nil {
		t.Skip("corpus not found:", err)
	}
	type pair struct{ name, etcd, api string }
	var pairs []pair
	repoEtcd := filepath.Join(repoManifests, "unhardened", discover.EtcdFile)
	repoAPI := filepath.Join(repoManifests, "unhardened", discover.APIServerFile)
	for _, dir := range []string{"etcd", "apiserver"} {
		files, _ := filepath.Glob(filepath.Join(corpus, dir, "*.yaml"))
		for _, f := range files {
			if dir == "etcd" {
				pairs = append(pairs, pair{dir + "/" + filepath.Base(f), f, repoAPI})
			} else {
				pairs = append(pairs, pair{dir + "/" + filepath.Base(f), repoEtcd, f})
			}
		}
	}
	// Pairs from one repository, as they ran together.
	pairs = append(pairs,
		pair{"devopsyuva pair", filepath.Join(corpus, "etcd", "devopsyuva-k8s-1.11__kubeadm-1.11-exec-probe.yaml"),
			filepath.Join(corpus, "apiserver", "devopsyuva-k8s-1.11__kubeadm-1.11-no-encryption.yaml")},
		pair{"jesmg pair", filepath.Join(corpus, "etcd", "jesmg-xiv-stic__kind-1.19-cipher-suites-auto-tls-false.yaml"),
			filepath.Join(corpus, "apiserver", "jesmg-xiv-stic__kind-1.19-hardening-hash-comments.yaml")})
	planned := 0
	for _, pc := range pairs {
		t.Run(pc.name, func(t *testing.T) {
			etcd, err := os.ReadFile(pc.etcd)
			must(t, err)
			api, err := os.ReadFile(pc.api)
			must(t, err)
			root := node(t, etcd, api)
			s, err := discover.Load(discover.Layout{Root: root})
			if refused[filepath.Base(pc.name)] != (err != nil) {
				t.Errorf("discover.Load: %v; refusal expected: %v", err, refused[filepath.Base(pc.name)])
			}
			if err != nil {
				var pe *discover.ParseError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), filepath.Join(root, "etc", "kubernetes", "manifests")) {
					t.Fatalf("refused without naming the file: %v", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			r, err := Build(s, Options{})
			if err != nil {
				if !strings.Contains(err.Error(), ".yaml") {
					t.Fatalf("refused without naming a file: %v", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			planned++
			out := filepath.Join(t.TempDir(), "plan")
			must(t, WriteOut(out, r, WriteOptions{}))
			patched := t.TempDir()
			copyTree(t, root, patched)
			run(t, patched, "git", "apply", "--check", filepath.Join(out, PatchFile))
			run(t, patched, "patch", "-p1", "-s", "-i", filepath.Join(out, PatchFile))
			copyTree(t, filepath.Join(out, SecretsDir), patched)
			ps, err := discover.Load(discover.Layout{Root: patched})
			if err != nil {
				t.Fatalf("the patched manifests do not load: %v", err)
			}
			for i, m := range []*discover.Manifest{ps.Etcd, ps.APIServer} {
				before := []*discover.Manifest{s.Etcd, s.APIServer}[i]
				for _, f := range m.Flags {
					if n := m.FlagCount(f.Name); n > 1 && n > before.FlagCount(f.Name) {
						t.Errorf("%s: --%s appears %d times", m.RelPath, f.Name, n)
					}
				}
			}
			if _, err := ReadOut(out, root); err != nil {
				t.Fatal(err)
			}
		})
	}
	if planned == 0 {
		t.Error("no corpus pair could be planned")
	}
}
