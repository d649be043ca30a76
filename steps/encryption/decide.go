package encryption

import (
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

// KMSOptions configure a KMS v2 provider.
type KMSOptions struct {
	Name     string        // the plugin's name, stored in every value's prefix
	Endpoint string        // unix:///path/to/socket
	Timeout  time.Duration // gRPC timeout; 0 leaves kube-apiserver's default (3s)
}

// Options are the user's choices for step 1.
type Options struct {
	Provider  Provider // Secretbox when empty
	Resources []string // DefaultResources when empty
	KeyName   string   // DefaultKeyName(Now) when empty
	KMS       KMSOptions
	// Rotate adds a new key even when the existing config already encrypts.
	Rotate bool
	// ConfigPath is the config's path inside the kube-apiserver container for a new
	// config (DefaultConfigPath when empty). An existing config stays where it is.
	ConfigPath string
	// AutomaticReload adds --encryption-provider-config-automatic-reload=true.
	AutomaticReload bool
	Now             time.Time // time.Now() when zero
	Rand            io.Reader // crypto/rand when nil
	// PlanDir is the folder the plan is written into, when known: a config an earlier
	// plan left there is read so that its keys are not lost.
	PlanDir string
	// ScanEtcd, when not nil, scans etcd for how the values of resources are stored
	// (Status, without a config). Every key id it counts must stay in the config; copies'
	// keys it does not count are left out. nil, or an error, means etcd was not reached:
	// every key found is kept.
	ScanEtcd func(resources []string) (*StatusReport, error)
	// RetireKeys are keys to remove from the config kube-apiserver reads, by id
	// ("aescbc:key-2023") or by name ("key-2023"). A key is removed only once ScanEtcd
	// shows no value stored with it, and never the key an entry writes with; otherwise
	// Apply refuses (ErrKeyInUse), saying how many values still use it and what to run.
	RetireKeys []string

	// taken are key ids ("secretbox:key-1") other configs of the node use: a new key
	// must not reuse one of their names.
	taken map[string]bool
}

// Action says what the step does with the config.
type Action string

// Actions.
const (
	ActionNew     Action = "new"     // no config yet: a new one
	ActionRotated Action = "rotated" // a new key first, the old ones kept for reads
	ActionKept    Action = "kept"    // the config already encrypts: nothing to change
	ActionRetired Action = "retired" // old keys no value uses are removed, nothing else changes
)

func (o Options) withDefaults() (Options, error) {
	if o.Provider == "" {
		o.Provider = Secretbox
	}
	p, err := ParseProvider(string(o.Provider))
	if err != nil {
		return o, err
	}
	o.Provider = p
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if len(o.Resources) == 0 {
		o.Resources = DefaultResources
	}
	o.Resources, err = cleanResources(o.Resources)
	if err != nil {
		return o, err
	}
	if o.ConfigPath == "" {
		o.ConfigPath = DefaultConfigPath
	}
	if !path.IsAbs(o.ConfigPath) || path.Clean(o.ConfigPath) != o.ConfigPath || path.Dir(o.ConfigPath) == "/" {
		return o, fmt.Errorf("config path %q must be an absolute, clean path inside a folder (for example %s)", o.ConfigPath, DefaultConfigPath)
	}
	if o.Provider == KMS {
		return o, checkKMS(o.KMS)
	}
	if o.KeyName == "" {
		o.KeyName = DefaultKeyName(o.Now)
	}
	if strings.ContainsAny(o.KeyName, ": \t\n") {
		return o, fmt.Errorf("key name %q must not contain ':' or spaces: kube-apiserver stores it in each value's prefix", o.KeyName)
	}
	return o, nil
}

func cleanResources(in []string) ([]string, error) {
	var out []string
	for _, r := range in {
		r = strings.TrimSpace(r)
		if r == "" || slices.Contains(out, r) {
			continue
		}
		if strings.ToLower(r) != r {
			return nil, fmt.Errorf("resource %q must be lower case, as in kubectl api-resources (e.g. %q)", r, strings.ToLower(r))
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no resource to encrypt: choose at least one (secrets is the usual one)")
	}
	return out, nil
}

func checkKMS(k KMSOptions) error {
	switch {
	case k.Name == "":
		return fmt.Errorf("kms needs the plugin's name (stored in every encrypted value)")
	case strings.Contains(k.Name, ":"):
		return fmt.Errorf("kms plugin name %q must not contain ':'", k.Name)
	case !strings.HasPrefix(k.Endpoint, "unix:///"):
		return fmt.Errorf("kms endpoint %q must be a unix socket such as unix:///var/run/kms-plugin.sock", k.Endpoint)
	case k.Timeout < 0:
		return fmt.Errorf("kms timeout %s must be positive", k.Timeout)
	}
	return nil
}

// decision is the config to write and what it means.
type decision struct {
	Action   Action
	Config   *Config
	Provider Provider
	KeyName  string
	OldKeys  []string // ids of the keys kept for reads
	Notes    []string
}

// decide builds a new config (existing == nil), keeps existing, or rotates it. key is
// unused for kms.
func decide(existing *Config, o Options, key Key) (*decision, error) {
	if existing == nil {
		d := &decision{Action: ActionNew, Provider: o.Provider}
		name, err := d.keyName(&Config{}, o, nil)
		if err != nil {
			return nil, err
		}
		spec := apiserverv1.EncryptionConfiguration{Resources: []apiserverv1.ResourceConfiguration{{
			Resources: o.Resources,
			Providers: []apiserverv1.ProviderConfiguration{newProvider(o, key, name), identity()},
		}}}
		d.Config, d.KeyName = &Config{spec: spec}, writeName(o, name)
		return d, nil
	}
	var missing []string
	var targets []int
	for _, r := range o.Resources {
		i := existing.Lookup(r)
		switch {
		case i < 0:
			missing = append(missing, r)
		case (o.Rotate || firstIs(existing.spec.Resources[i], Identity)) && !slices.Contains(targets, i):
			targets = append(targets, i)
		}
	}
	slices.Sort(targets)
	if len(missing) == 0 && len(targets) == 0 {
		return keep(existing, o), nil
	}
	if o.Provider == KMS && len(targets)+min(len(missing), 1) > 1 {
		return nil, fmt.Errorf("%s: the chosen resources are spread over several entries, and a KMS v2 name can appear only once; choose the resources of one entry at a time", existing.Path)
	}
	c := &Config{Path: existing.Path, spec: *existing.spec.DeepCopy()}
	d := &decision{Action: ActionRotated, Config: c, Provider: o.Provider}
	name, err := d.keyName(existing, o, targets)
	if err != nil {
		return nil, err
	}
	d.KeyName = writeName(o, name)
	changed := false
	for _, i := range targets {
		if d.rotateEntry(&c.spec.Resources[i], o, key, name) {
			changed = true
		}
	}
	if len(missing) > 0 {
		entry := apiserverv1.ResourceConfiguration{Resources: missing,
			Providers: []apiserverv1.ProviderConfiguration{newProvider(o, key, name), identity()}}
		c.spec.Resources = append([]apiserverv1.ResourceConfiguration{entry}, c.spec.Resources...)
		d.Notes = append(d.Notes, fmt.Sprintf("%s: no entry covered %s; a new entry for them comes first", existing.Path, strings.Join(missing, ", ")))
		changed = true
	}
	if !changed {
		k := keep(existing, o)
		k.Notes = append(d.Notes, k.Notes...)
		return k, nil
	}
	return d, nil
}

// writeName is the id shown for the key that encrypts new writes.
func writeName(o Options, name string) string {
	if o.Provider == KMS {
		return o.KMS.Name
	}
	return name
}

func keep(existing *Config, o Options) *decision {
	d := &decision{Action: ActionKept, Config: existing}
	i := existing.Lookup(o.Resources[0])
	first := providerRef(existing.spec.Resources[i].Providers[0])
	d.Provider = first.Type
	if first.Type == KMS {
		d.KeyName = first.Name
	} else if len(first.Keys) > 0 {
		d.KeyName = first.Keys[0]
	}
	d.Notes = append(d.Notes, fmt.Sprintf("%s already encrypts %s with %s (key %s): nothing to change; choose rotation to add a new key", existing.Path, strings.Join(o.Resources, ", "), first.Type, d.KeyName))
	if first.Type != o.Provider {
		d.Notes = append(d.Notes, fmt.Sprintf("you chose %s but the config uses %s; rotating would put %s first and keep %s for reads", o.Provider, first.Type, o.Provider, first.Type))
	}
	switch first.Type {
	case AESCBC:
		d.Notes = append(d.Notes, "aescbc is weak per the Kubernetes docs (padding-oracle attacks); rotate to secretbox unless FIPS rules require AES")
	case AESGCM:
		d.Notes = append(d.Notes, "aesgcm needs a new key every 200,000 writes; rotate it on a schedule")
	case KMS:
		if first.KMSVersion == "v1" {
			d.Notes = append(d.Notes, fmt.Sprintf("kms provider %q uses the deprecated KMS v1; move to KMS v2", first.Name))
		}
	}
	return d
}

// keyName returns o.KeyName, or a variant of it not used by the same provider in the
// target entries (so the value prefix names one key only).
func (d *decision) keyName(existing *Config, o Options, targets []int) (string, error) {
	if o.Provider == KMS {
		for i, e := range existing.Entries() {
			for j, p := range e.Providers {
				if p.Type == KMS && p.Name == o.KMS.Name && !(j == 0 && slices.Contains(targets, i)) {
					return "", fmt.Errorf("%s: a kms provider named %q is already in the config; kube-apiserver needs unique KMS names, so choose another name", existing.Path, o.KMS.Name)
				}
			}
		}
		for id := range o.taken {
			if strings.HasPrefix(id, "kms:") && strings.SplitN(id, ":", 3)[2] == o.KMS.Name && !existing.KeyIDs("")[id] {
				return "", fmt.Errorf("a kms provider named %q is in another encryption config of this node; kube-apiserver needs unique KMS names and the plan keeps that config's providers, so choose another name", o.KMS.Name)
			}
		}
		return o.KMS.Name, nil
	}
	used := map[string]bool{}
	for _, i := range targets {
		for _, p := range existing.Entries()[i].Providers {
			if p.Type == o.Provider {
				for _, k := range p.Keys {
					used[k] = true
				}
			}
		}
	}
	for id := range o.taken {
		if t, n, ok := strings.Cut(id, ":"); ok && t == string(o.Provider) {
			used[n] = true
		}
	}
	name := o.KeyName
	for n := 2; used[name]; n++ {
		name = fmt.Sprintf("%s-%d", o.KeyName, n)
	}
	if name != o.KeyName && o.KeyName != "" {
		d.Notes = append(d.Notes, fmt.Sprintf("key name %s is already used by an encryption config of this node; the new key is named %s", o.KeyName, name))
	}
	return name, nil
}

// rotateEntry puts the new key first in the entry, keeps the old providers after it for
// reads and moves identity last. It reports whether the entry changed.
func (d *decision) rotateEntry(e *apiserverv1.ResourceConfiguration, o Options, key Key, name string) bool {
	where := strings.Join(e.Resources, ", ")
	var rest []apiserverv1.ProviderConfiguration
	hadIdentity := false
	for i, p := range e.Providers {
		if p.Identity != nil {
			if i != len(e.Providers)-1 {
				pos := "in the middle"
				if i == 0 {
					pos = "first (nothing was encrypted)"
				}
				d.Notes = append(d.Notes, fmt.Sprintf("entry %s: identity was %s; it is now last, as the read fallback for values written before encryption", where, pos))
			}
			hadIdentity = true
			continue
		}
		rest = append(rest, p)
	}
	for _, p := range rest {
		d.OldKeys = append(d.OldKeys, providerRef(p).KeyIDs()...)
	}
	unchanged := false
	switch {
	case len(rest) > 0 && o.Provider == KMS && rest[0].KMS != nil && rest[0].KMS.Name == o.KMS.Name:
		d.Notes = append(d.Notes, fmt.Sprintf("entry %s already writes with kms %q: the KMS plugin rotates its own keys", where, o.KMS.Name))
		unchanged = hadIdentity == (e.Providers[len(e.Providers)-1].Identity != nil)
	case len(rest) > 0 && o.Provider != KMS && firstIsProvider(rest[0], o.Provider):
		keys := providerKeys(&rest[0])
		*keys = append([]apiserverv1.Key{{Name: name, Secret: key.Reveal()}}, *keys...)
	default:
		rest = append([]apiserverv1.ProviderConfiguration{newProvider(o, key, name)}, rest...)
	}
	if hadIdentity {
		rest = append(rest, identity())
	}
	e.Providers = rest
	return !unchanged
}

func newProvider(o Options, key Key, name string) apiserverv1.ProviderConfiguration {
	keys := &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{{Name: name, Secret: key.Reveal()}}}
	switch o.Provider {
	case AESGCM:
		return apiserverv1.ProviderConfiguration{AESGCM: keys}
	case AESCBC:
		return apiserverv1.ProviderConfiguration{AESCBC: keys}
	case KMS:
		k := &apiserverv1.KMSConfiguration{APIVersion: "v2", Name: o.KMS.Name, Endpoint: o.KMS.Endpoint}
		if o.KMS.Timeout > 0 {
			k.Timeout = &metav1.Duration{Duration: o.KMS.Timeout}
		}
		return apiserverv1.ProviderConfiguration{KMS: k}
	}
	return apiserverv1.ProviderConfiguration{Secretbox: &apiserverv1.SecretboxConfiguration{Keys: keys.Keys}}
}

func identity() apiserverv1.ProviderConfiguration {
	return apiserverv1.ProviderConfiguration{Identity: &apiserverv1.IdentityConfiguration{}}
}

func firstIs(e apiserverv1.ResourceConfiguration, p Provider) bool {
	return len(e.Providers) > 0 && firstIsProvider(e.Providers[0], p)
}

func firstIsProvider(pc apiserverv1.ProviderConfiguration, p Provider) bool {
	return providerRef(pc).Type == p
}

func providerKeys(p *apiserverv1.ProviderConfiguration) *[]apiserverv1.Key {
	switch {
	case p.Secretbox != nil:
		return &p.Secretbox.Keys
	case p.AESGCM != nil:
		return &p.AESGCM.Keys
	case p.AESCBC != nil:
		return &p.AESCBC.Keys
	}
	return nil
}
