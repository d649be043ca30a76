package harden

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/cluster"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/phased"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// What a plan on a node of a multi-member cluster adds to its folder.
const (
	// BundleDir is the cluster bundle the first node's plan writes: the etcd CA and the
	// encryption config, to be copied to every other node (plan --bundle).
	BundleDir = "bundle"
	// BundleCACert, BundleCAKey and BundleConfig are its files, relative to BundleDir;
	// the two secret ones are under SecretsDir (0700/0600, ignored by git).
	BundleCACert = "ca.crt"
	BundleCAKey  = SecretsDir + "/ca.key"
	BundleConfig = SecretsDir + "/encryption-config.yaml"
	// ClusterFile holds the node's phase manifests and the cluster seen when planning.
	ClusterFile = "cluster.json"
)

// Bundle is what every node of one cluster must share: the etcd CA that signs each
// member's certificates, and the encryption config every kube-apiserver must have,
// byte for byte.
type Bundle struct {
	CACert, CAKey, EncryptionConfig []byte
	// Dir is the folder it was read from ("" for one made by this plan).
	Dir string
}

// ErrNotBundle: a --bundle folder that is not a bundle a plan wrote.
var ErrNotBundle = errors.New("not a cluster bundle")

// ReadBundle reads the bundle in dir (the bundle/ folder of the first node's plan, or
// that plan folder itself). Its errors name dir; callers say which flag or answer gave it.
func ReadBundle(dir string) (*Bundle, error) {
	if _, err := os.Stat(filepath.Join(dir, BundleDir, BundleCACert)); err == nil {
		dir = filepath.Join(dir, BundleDir)
	}
	b := &Bundle{Dir: dir}
	for _, f := range []struct {
		rel string
		to  *[]byte
	}{{BundleCACert, &b.CACert}, {BundleCAKey, &b.CAKey}, {BundleConfig, &b.EncryptionConfig}} {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s has no %s: give the %s/ folder that `etcd-harden plan` wrote on the first node, copied whole (with secrets/): %w", dir, f.rel, BundleDir, ErrNotBundle)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dir, err)
		}
		*f.to = data
	}
	cas, err := certs.ParseCerts(b.CACert)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not a certificate (%v): %w", dir, BundleCACert, err, ErrNotBundle)
	}
	key, err := certs.ParseKey(b.CAKey)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not a private key (%v): %w", dir, BundleCAKey, err, ErrNotBundle)
	}
	// A key from another plan would sign this node's certificates with a key its CA
	// certificate does not name: no member would trust them, and the rollout would fail.
	if !certs.KeyMatches(cas[0], key) {
		return nil, fmt.Errorf("%s: %s is not the private key of %s (from another plan?): give the %s/ folder of one plan, copied whole: %w", dir, BundleCAKey, BundleCACert, BundleDir, ErrNotBundle)
	}
	// A config cut short in the copy would keep this node's kube-apiserver from starting.
	if _, _, err := encryption.Judge(context.Background(), filepath.Join(dir, filepath.FromSlash(BundleConfig)), b.EncryptionConfig, false); err != nil {
		return nil, fmt.Errorf("%w; copy the %s/ folder again, whole: %w", err, BundleDir, ErrNotBundle)
	}
	return b, nil
}

// useBundleCA puts the bundle's CA into scratch where the node's CA pair goes, so that
// Generate signs the node's certificates with it. A different CA already on the node is
// refused: the node's members could not trust each other.
func useBundleCA(scratch *plan.Plan, s *discover.State, pairs []certs.Pair, b *Bundle) error {
	ca := certs.Find(pairs, certs.PairCA)
	if ca == nil {
		return errors.New("no etcd CA pair was discovered")
	}
	for _, f := range []struct {
		path   string
		data   []byte
		mode   fs.FileMode
		secret bool
	}{{ca.Cert.Path, b.CACert, 0o644, false}, {ca.Key.Path, b.CAKey, 0o600, true}} {
		disk, err := os.ReadFile(f.path)
		switch {
		case err == nil && bytes.Equal(disk, f.data):
			continue
		case err == nil:
			return fmt.Errorf("%s is not the bundle's etcd CA (%s): one cluster needs one etcd CA; remove the node's own CA files if nothing uses them yet, or make the bundle on a node that has this CA", f.path, b.Dir)
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
		if err := scratch.Create(s.Layout.Rel(f.path), f.data, f.mode, 0o700, f.secret, "cluster: the etcd CA of the cluster bundle"); err != nil {
			return err
		}
	}
	return nil
}

// ClusterPlan is what a plan for one member of a multi-member cluster adds (ClusterFile).
type ClusterPlan struct {
	Format string `json:"format"`
	// Node is the member's --name; Members and Endpoints are the cluster seen when
	// planning (names, client URLs).
	Node      string   `json:"node"`
	Members   []string `json:"members"`
	Endpoints []string `json:"endpoints"`
	// Etcd is etcd.yaml's path under the root, EtcdPhases its content for phases 0-3.
	Etcd       string    `json:"etcd"`
	EtcdPhases [4]string `json:"etcdPhases"`
	// EncryptionConfig is the config's path under the root ("" when not planned).
	EncryptionConfig string `json:"encryptionConfig,omitempty"`
	// Bundle is the bundle folder the plan used; "" on the node that made it.
	Bundle string `json:"bundle,omitempty"`
	// Observed is the cluster as etcd showed it when the plan was written (each
	// member's phase and health, and when); nil when it was not read. Apply reads the
	// phases again: this is for REVIEW.md.
	Observed *cluster.Facts `json:"observed,omitempty"`
}

const clusterFormat = "etcd-harden-cluster-plan"

// Manifests returns the phase manifests.
func (c *ClusterPlan) Manifests() *phased.Manifests {
	m := &phased.Manifests{}
	for i, s := range c.EtcdPhases {
		m.Phases[i] = []byte(s)
	}
	return m
}

// AddCluster makes r a plan for one member of a cluster of members (names) reached on
// endpoints: the phase manifests, and, when bundle is nil (the first node), the bundle
// the other nodes' plans take. A plan that leaves etcd.yaml as it is (etcd is hardened
// already) has no phases: r is left a one-node plan.
func AddCluster(r *Result, node string, members, endpoints []string, bundle *Bundle) error {
	etcdRel := r.State.Layout.Rel(filepath.Join(r.State.Layout.ManifestsDir, discover.EtcdFile))
	c := r.Plan.Find(etcdRel)
	if c == nil || c.ModeOnly() {
		return nil
	}
	m, err := phased.BuildManifests(c.Old, c.New)
	if err != nil {
		return err
	}
	cp := &ClusterPlan{Format: clusterFormat, Node: node, Members: members, Endpoints: endpoints, Etcd: etcdRel}
	for i, p := range m.Phases {
		cp.EtcdPhases[i] = string(p)
	}
	if r.Encryption != nil && r.Encryption.ConfigFile != "" {
		cp.EncryptionConfig = r.State.Layout.Rel(r.Encryption.ConfigFile)
	}
	if bundle != nil {
		cp.Bundle = bundle.Dir
	} else if bundle, err = makeBundle(r); err != nil {
		return err
	}
	r.Cluster, r.Bundle = cp, bundle
	return nil
}

// makeBundle takes the CA and the encryption config as r leaves them.
func makeBundle(r *Result) (*Bundle, error) {
	if r.Certs == nil {
		return nil, errors.New("no certificates planned: no CA to bundle")
	}
	ca := certs.Find(r.Certs.Pairs, certs.PairCA)
	b := &Bundle{}
	var err error
	if b.CACert, err = r.Plan.Current(r.State.Layout.Rel(ca.Cert.Path)); err != nil {
		return nil, fmt.Errorf("bundle the etcd CA: %w", err)
	}
	if b.CAKey, err = r.Plan.Current(r.State.Layout.Rel(ca.Key.Path)); err != nil {
		return nil, fmt.Errorf("bundle the etcd CA key: %w", err)
	}
	if r.Encryption == nil || r.Encryption.ConfigFile == "" {
		return nil, errors.New("no encryption config planned: nothing to bundle")
	}
	if b.EncryptionConfig, err = r.Plan.Current(r.State.Layout.Rel(r.Encryption.ConfigFile)); err != nil {
		return nil, fmt.Errorf("bundle the encryption config: %w", err)
	}
	return b, nil
}

// writeCluster writes ClusterFile and, on the first node, BundleDir into dir.
func writeCluster(dir string, r *Result) error {
	if r.Cluster == nil {
		return nil
	}
	data, err := json.MarshalIndent(r.Cluster, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ClusterFile), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if r.Bundle == nil || r.Cluster.Bundle != "" {
		return nil
	}
	bd := filepath.Join(dir, BundleDir)
	if err := os.MkdirAll(filepath.Join(bd, SecretsDir), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(bd, 0o700); err != nil {
		return err
	}
	for _, f := range []struct {
		rel  string
		data []byte
		mode fs.FileMode
	}{{BundleCACert, r.Bundle.CACert, 0o644}, {BundleCAKey, r.Bundle.CAKey, 0o600}, {BundleConfig, r.Bundle.EncryptionConfig, 0o600}} {
		if err := os.WriteFile(filepath.Join(bd, filepath.FromSlash(f.rel)), f.data, f.mode); err != nil {
			return err
		}
	}
	return nil
}

// ReadCluster reads ClusterFile from the plan folder dir; nil, nil for a one-node plan.
func ReadCluster(dir string) (*ClusterPlan, error) {
	data, err := os.ReadFile(filepath.Join(dir, ClusterFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c ClusterPlan
	if err := json.Unmarshal(data, &c); err != nil || c.Format != clusterFormat {
		return nil, fmt.Errorf("%s is not a cluster plan of this etcd-harden: %w", filepath.Join(dir, ClusterFile), ErrAltered)
	}
	return &c, nil
}

// ReadChanges reads the changes of the plan in dir without comparing them with the node
// (ReadOut does): a cluster plan is applied in phases, so the node is part way by design.
// It refuses a plan made for another root, and content that does not match its hash.
func ReadChanges(dir, root string) (*plan.Plan, error) {
	data, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return nil, fmt.Errorf("read the plan in %s: %w; give the folder that `etcd-harden plan --out` wrote", dir, err)
	}
	var sp savedPlan
	if err := json.Unmarshal(data, &sp); err != nil || sp.Format != indexFormat {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, IndexFile), ErrAltered)
	}
	if filepath.Clean(sp.Root) != filepath.Clean(root) {
		return nil, fmt.Errorf("the plan in %s was made for the files under %s, not %s; nothing was written: %w", dir, sp.Root, root, ErrOtherRoot)
	}
	p := plan.New(root)
	for _, sc := range sp.Changes {
		c, err := readChange(dir, root, sc)
		if err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// rolloutTable is REVIEW.md's node/phase/state table: the members as etcd showed them
// when the plan was written, or, when it was not read, as planned.
func rolloutTable(c *ClusterPlan) string {
	var b strings.Builder
	b.WriteString("| node | phase | state |\n|---|---|---|\n")
	if f := c.Observed; f != nil {
		for _, m := range f.Members {
			state := "up"
			if !m.Up {
				state = "down"
				if m.Err != "" {
					state += ": " + m.Err
				}
			}
			if m.Name == c.Node {
				state += " (this node, planned here)"
			}
			name := m.Name
			if name == "" {
				name = fmt.Sprintf("%x (never started)", m.ID)
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", name, m.Phase(), state)
		}
		fmt.Fprintf(&b, "\nAs etcd showed the cluster at %s, when this plan was written. `apply` reads each member's phase from etcd again; run `etcd-harden audit` for the cluster as it is now.\n",
			f.Observed.UTC().Format("2006-01-02 15:04:05 UTC"))
		return b.String()
	}
	for _, m := range c.Members {
		state := "to plan with --bundle"
		if m == c.Node {
			state = "planned here"
		}
		fmt.Fprintf(&b, "| %s | 0 (http) | %s |\n", m, state)
	}
	b.WriteString("\nThe state as planned: etcd's member list was not read with the phases when this plan was written.\n")
	return b.String()
}

// clusterReview is REVIEW.md's section on a cluster plan.
func clusterReview(r *Result) string {
	c := r.Cluster
	if c == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n## A cluster of %d members: apply in phases, one member at a time\n\n", len(c.Members))
	fmt.Fprintf(&b, "This node is member `%s` of %s. Its etcd cannot be moved to mutual TLS alone: `etcd-harden apply --plan DIR` does what the cluster allows now (phase 1: certificates and https for clients beside http, kube-apiserver on TLS, an encryption config that reads the new key; phase 2: https peers, the new key written; phase 3: no http, client and peer certificates required), waits for the whole cluster to be healthy after each restart, and says on which node to run it next. Run it again on each node until it says the cluster is done.\n\n",
		c.Node, strings.Join(c.Members, ", "))
	b.WriteString(rolloutTable(c))
	if c.Bundle != "" {
		fmt.Fprintf(&b, "\nThe etcd CA and the encryption config come from the bundle in `%s`: every node has the same.\n", c.Bundle)
		return b.String()
	}
	fmt.Fprintf(&b, "\n### The cluster bundle: `%s/`\n\n", BundleDir)
	fmt.Fprintf(&b, "`%s/%s` is the etcd CA, `%s/%s` its key and `%s/%s` the encryption config, with its key. Every other node must use the same CA and the same config, byte for byte:\n\n", BundleDir, BundleCACert, BundleDir, BundleCAKey, BundleDir, BundleConfig)
	b.WriteString("```sh\n# from this node, over SSH, the whole folder (mode kept, root only):\nscp -rp " + BundleDir + "/ root@NODE:/root/etcd-bundle\n# on each other node:\netcd-harden plan --bundle /root/etcd-bundle --out /root/etcd-plan\n```\n\n")
	fmt.Fprintf(&b, "Never commit `%s/%s/`: the CA key signs certificates etcd trusts, and the encryption key reads every Secret. The `.gitignore` leaves it out. Remove the copies once every node has applied its plan.\n", BundleDir, SecretsDir)
	return b.String()
}
