package encryption

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

// usualConfigPaths are where guides and installers put the config, besides
// DefaultConfigPath; every file of DefaultConfigPath's folder is read as well.
var usualConfigPaths = []string{
	"/etc/kubernetes/enc/enc.yaml", // the Kubernetes docs' example
	"/etc/kubernetes/encryption-config.yaml",
	"/etc/kubernetes/encryption-provider-config.yaml",
	"/etc/kubernetes/pki/encryption-config.yaml",
	"/var/lib/kubernetes/encryption-config.yaml", // Kubernetes the Hard Way
}

// Known is an encryption config found besides the one kube-apiserver.yaml names: a value
// in etcd may have been written with any of its keys.
type Known struct {
	// Path is the file's host path.
	Path string
	// Where says how it was found ("the default path", "a backup in ...").
	Where string
	// OnNode is true for a file where kube-apiserver could read it, false for a copy (a
	// backup or a plan folder).
	OnNode bool
	Config *Config
}

// KeptKey is a key of a Known config that the planned config keeps for reads.
type KeptKey struct {
	ID   string `json:"id"`   // "secretbox:key-old", "kms:v2:vault"
	From string `json:"from"` // the file it comes from
	// Where says how the file was found.
	Where string `json:"where"`
}

// commentedFlag finds a commented-out --encryption-provider-config and its value.
var commentedFlag = regexp.MustCompile(`(?m)^\s*#.*--` + ConfigFlag + `[= ]\s*["']?([^\s"']+)`)

// findKnown reads every encryption config the node holds besides skip (the file the flag
// names, "" for none): the default path and its folder, the usual paths, the path a
// commented-out flag names, the copies in the backups of earlier applies and in planDir
// ("" for none). A file on the node that does not decode, at the path the plan writes
// (writeHost), is an error: replacing it could lose keys. Other files that do not
// decode are warnings.
func findKnown(s *discover.State, skip, writeHost, planDir string) ([]Known, []string, error) {
	var out []Known
	var warnings []string
	seen := map[string]bool{skip: true}
	add := func(host, where string, onNode bool, mustDecode bool) error {
		if seen[host] {
			return nil
		}
		data, err := os.ReadFile(host)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && len(data) == 0 && !mustDecode) {
			return nil
		}
		seen[host] = true
		if err != nil {
			return fmt.Errorf("read %s (%s) to keep its keys: %w; run as root, or move it out of the way if it holds no key in use", host, where, err)
		}
		c, _, jerr := Judge(context.Background(), host, data, false)
		if c == nil {
			if mustDecode {
				return fmt.Errorf("%s (%s) is not an encryption config kube-apiserver can read, and the plan would replace it: %w; fix it, or move it out of the way if it holds no key values in etcd need", host, where, jerr)
			}
			if onNode {
				warnings = append(warnings, fmt.Sprintf("%s (%s) was read to keep its keys but does not decode: %v", host, where, jerr))
			}
			return nil
		}
		if jerr != nil {
			warnings = append(warnings, fmt.Sprintf("%s (%s): kube-apiserver would refuse it (%v); its valid keys are kept all the same", host, where, reasonOf(jerr)))
		}
		out = append(out, Known{Path: host, Where: where, OnNode: onNode, Config: c})
		return nil
	}
	var errs []error
	try := func(host, where string, onNode bool) {
		replaced := onNode && host == writeHost
		if replaced {
			where = "the file the plan replaces"
		}
		errs = append(errs, add(host, where, onNode, replaced))
	}
	try(s.Layout.Host(DefaultConfigPath), "the default path", true)
	if s.APIServer != nil {
		for _, m := range commentedFlag.FindAllSubmatch(s.APIServer.Raw, -1) {
			if p := string(m[1]); path.IsAbs(p) {
				try(s.HostFile(s.APIServer, p), "named by a commented-out --"+ConfigFlag+" in "+s.APIServer.RelPath, true)
			}
		}
	}
	for _, p := range usualConfigPaths {
		try(s.Layout.Host(p), "a usual place for it", true)
	}
	if writeHost != "" {
		try(writeHost, "", true)
	}
	encDir := s.Layout.Host(path.Dir(DefaultConfigPath))
	if entries, err := os.ReadDir(encDir); err == nil {
		for _, e := range entries {
			if e.Type().IsRegular() && isConfigName(e.Name()) {
				try(filepath.Join(encDir, e.Name()), "in the folder of the default path", true)
			}
		}
	}
	if backups, err := plan.ListBackups(plan.DefaultBackupRoot(s.Layout.Root)); err == nil {
		for _, b := range backups {
			for _, f := range b.Files {
				if f.Secret && f.Copy != "" {
					try(filepath.Join(b.Dir, filepath.FromSlash(f.Copy)), "a copy of /"+f.Path+" in the backup "+b.Dir, false)
				}
			}
		}
	}
	if planDir != "" {
		root := filepath.Join(planDir, "secrets")
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() && isConfigName(d.Name()) {
				try(p, "an earlier plan in "+planDir, false)
			}
			return nil
		})
	}
	return out, warnings, errors.Join(errs...)
}

func isConfigName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}

func reasonOf(err error) string {
	var ce *ConfigError
	if errors.As(err, &ce) {
		return ce.Reason()
	}
	return err.Error()
}

// takenNames returns the key ids of every known config, so a new key gets a name none
// of them uses.
func takenNames(known []Known) map[string]bool {
	out := map[string]bool{}
	for _, k := range known {
		for id := range k.Config.KeyIDs("") {
			out[id] = true
		}
	}
	return out
}

// keepKnownKeys is the rule "never make a key unreachable": it adds to c, for reads
// only, every key of the known configs that c lacks, in the entry that reads the same
// resources, after c's own keys and before identity. With a scan of etcd (inUse not
// nil), keys of copies (backups, plans) that no value uses are left out. A key whose
// name c already uses with another secret is an error naming both files: kube-apiserver
// tells keys apart by name only. Last, every key id etcd's values carry must be in c.
func keepKnownKeys(c *Config, known []Known, inUse *StatusReport) (kept, dropped []KeptKey, err error) {
	used, origin := map[string]bool{}, map[string]string{}
	if inUse != nil {
		for _, k := range inUse.Keys {
			used[k.ID] = true
		}
	}
	for _, k := range known {
		for _, e := range k.Config.spec.Resources {
			for _, p := range e.Providers {
				ref := providerRef(p)
				for i, id := range ref.KeyIDs() {
					kk := KeptKey{ID: id, From: k.Path, Where: k.Where}
					if inUse != nil && !k.OnNode && !used[id] {
						if !slices.Contains(dropped, kk) {
							dropped = append(dropped, kk)
						}
						continue
					}
					added, err := c.keepKey(e.Resources, p, i, k.Path, origin)
					if err != nil {
						return nil, nil, err
					}
					if _, ok := origin[id]; !ok {
						origin[id] = k.Path
					}
					if added && !slices.ContainsFunc(kept, func(x KeptKey) bool { return x.ID == id }) {
						kept = append(kept, kk)
					}
				}
			}
		}
	}
	if inUse != nil {
		have := c.KeyIDs("")
		for _, k := range inUse.Keys {
			if !have[k.ID] {
				return nil, nil, fmt.Errorf("etcd holds %s written with key %s, and no encryption config found on this node has that key (read: %s): the plan would leave them unreadable, so nothing was planned; put the config that holds the key at %s (or point --%s at it) and plan again",
					values(k.Count), k.ID, strings.Join(knownPaths(c, known), ", "), DefaultConfigPath, ConfigFlag)
			}
		}
	}
	return kept, dropped, nil
}

func knownPaths(c *Config, known []Known) []string {
	var out []string
	if c.Path != "" {
		out = append(out, c.Path)
	}
	for _, k := range known {
		out = append(out, k.Path)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// keepKey adds key i of provider p (for the resources of its entry) to every entry of c
// that reads one of them, unless it is there already; a kms provider is added once, as
// its name must be unique. Resources no entry of c covers get an entry of their own that
// writes in plaintext, as kube-apiserver does now for them, and reads with the key. It
// reports whether the key was added.
func (c *Config) keepKey(resources []string, p apiserverv1.ProviderConfiguration, i int, from string, origin map[string]string) (bool, error) {
	ref := providerRef(p)
	if ref.Type == Identity || ref.Type == "" {
		return false, nil
	}
	id := ref.KeyIDs()[i]
	if ref.Type == KMS {
		if c.KeyIDs("")[id] {
			return false, nil
		}
	} else if err := c.sameSecret(ref.Type, (*providerKeys(&p))[i], from, origin[id]); err != nil {
		return false, err
	}
	targets, uncovered := []int{}, []string{}
	for _, r := range resources {
		if j := c.Lookup(r); j < 0 {
			uncovered = append(uncovered, r)
		} else if !slices.Contains(targets, j) {
			targets = append(targets, j)
		}
	}
	newEntry := -1
	if len(uncovered) > 0 {
		c.spec.Resources = append(c.spec.Resources, apiserverv1.ResourceConfiguration{Resources: uncovered,
			Providers: []apiserverv1.ProviderConfiguration{identity()}})
		newEntry = len(c.spec.Resources) - 1
		targets = append(targets, newEntry)
	}
	added := false
	for _, j := range targets {
		if c.entryHas(j, id) || (ref.Type == KMS && added) {
			continue
		}
		added = true
		e := &c.spec.Resources[j]
		q := *p.DeepCopy()
		if ref.Type != KMS {
			key := (*providerKeys(&p))[i]
			if k := slices.IndexFunc(e.Providers, func(q apiserverv1.ProviderConfiguration) bool { return firstIsProvider(q, ref.Type) }); k >= 0 {
				keys := providerKeys(&e.Providers[k])
				*keys = append(*keys, key)
				continue
			}
			*providerKeys(&q) = []apiserverv1.Key{key}
		}
		// Before identity, which stays last; in an entry made for uncovered resources
		// identity stays first, as kube-apiserver writes them in plaintext today.
		at := len(e.Providers)
		if j != newEntry && at > 0 && e.Providers[at-1].Identity != nil {
			at--
		}
		e.Providers = slices.Insert(e.Providers, at, q)
	}
	return added, nil
}

// entryHas reports whether entry j of c reads with key id.
func (c *Config) entryHas(j int, id string) bool {
	for _, p := range c.spec.Resources[j].Providers {
		if slices.Contains(providerRef(p).KeyIDs(), id) {
			return true
		}
	}
	return false
}

// sameSecret refuses a key whose name c already uses, in the same provider type, with
// another secret; where names the file c's key came from ("" for c's own).
func (c *Config) sameSecret(t Provider, key apiserverv1.Key, from, where string) error {
	for _, e := range c.spec.Resources {
		for _, p := range e.Providers {
			if providerRef(p).Type != t {
				continue
			}
			for _, k := range *providerKeys(&p) {
				if k.Name == key.Name && k.Secret != key.Secret {
					if where == "" {
						where = c.Path
					}
					if where == "" {
						where = "the planned config"
					}
					return fmt.Errorf("key %s:%s is in %s and in %s with different secrets: kube-apiserver tells keys apart by name only, so values written with one of them would be unreadable; nothing was planned. Find out which secret the values in etcd use (etcd-harden encryption status counts them by key), rename or remove the other key, and plan again",
						t, key.Name, from, where)
				}
			}
		}
	}
	return nil
}

// keptConfigGaps says which keys of the known configs, or of etcd's values, the config
// kube-apiserver keeps reading lacks: the plan does not change it, but those values
// cannot be read.
func keptConfigGaps(c *Config, known []Known, inUse *StatusReport) []string {
	have := c.KeyIDs("")
	var out []string
	if inUse != nil {
		for _, k := range inUse.Keys {
			if !have[k.ID] {
				out = append(out, fmt.Sprintf("etcd holds %s written with key %s, which %s lacks: kube-apiserver cannot read them; add the key back after the first one (run again with rotation to let the plan find it in the node's other configs)", values(k.Count), k.ID, c.Path))
			}
		}
		return out
	}
	for _, k := range known {
		if !k.OnNode {
			continue // copies hold keys removed on purpose as well
		}
		for id := range k.Config.KeyIDs("") {
			if !have[id] {
				out = append(out, fmt.Sprintf("%s (%s) has key %s, which %s lacks: if values in etcd were written with it, run again with rotation, which keeps it", k.Path, k.Where, id, c.Path))
			}
		}
	}
	slices.Sort(out)
	return out
}

// scanInUse runs o.ScanEtcd over every resource the planned config and the known configs
// name (those etcd has a prefix for). It returns nil when there is no scan; an error
// says why etcd was not read, as a warning.
func scanInUse(o Options, c *Config, known []Known) (*StatusReport, error) {
	if o.ScanEtcd == nil {
		return nil, nil
	}
	resources := slices.Clone(o.Resources)
	for _, cfg := range append([]*Config{c}, configsOf(known)...) {
		for _, r := range cfg.Resources() {
			if !slices.Contains(resources, r) {
				resources = append(resources, r)
			}
		}
	}
	rep, err := o.ScanEtcd(resources)
	if err != nil {
		return nil, fmt.Errorf("the key names in etcd were not checked (%w): every key found in the node's configs, backups and plan folder is kept", err)
	}
	return rep, nil
}

func configsOf(known []Known) []*Config {
	out := make([]*Config, len(known))
	for i, k := range known {
		out[i] = k.Config
	}
	return out
}

func values(n int) string {
	if n == 1 {
		return "1 value"
	}
	return fmt.Sprintf("%d values", n)
}
