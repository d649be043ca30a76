package encryption

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apiserver/pkg/apis/apiserver"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// ErrInvalidConfig is wrapped by every error about a config kube-apiserver would refuse.
var ErrInvalidConfig = errors.New("invalid encryption config")

// The same scheme and strict codecs kube-apiserver's loader builds.
var (
	configScheme = runtime.NewScheme()
	codecs       serializer.CodecFactory
)

func init() {
	utilruntime.Must(apiserver.AddToScheme(configScheme))
	utilruntime.Must(apiserverv1.AddToScheme(configScheme))
	codecs = serializer.NewCodecFactory(configScheme, serializer.EnableStrict)
}

// Config is an EncryptionConfiguration read from a file or built here. It prints without
// its secrets (fmt verbs give Summary).
type Config struct {
	// Path is the host path it was read from; "" for a config built here.
	Path string
	// Legacy is true for the old `kind: EncryptionConfig` / `apiVersion: v1` form.
	Legacy bool
	// Comments is true when the file had "#" comments (a rewrite does not keep them).
	Comments bool
	spec     apiserverv1.EncryptionConfiguration
}

// ProviderRef describes one provider of a resource entry without its secrets.
type ProviderRef struct {
	Type Provider `json:"type"`
	// KMSVersion is "v1" or "v2" for kms ("v1" when the file leaves it out).
	KMSVersion string `json:"kmsVersion,omitempty"`
	// Name is the KMS plugin's name (kms only).
	Name string `json:"name,omitempty"`
	// Endpoint is the KMS plugin's socket (kms only).
	Endpoint string `json:"endpoint,omitempty"`
	// Keys are the key names, first one used for writes (aes*, secretbox).
	Keys []string `json:"keys,omitempty"`
}

// Entry is one item of the config's resources list.
type Entry struct {
	Resources []string      `json:"resources"`
	Providers []ProviderRef `json:"providers"`
}

// ParseConfig decodes data (YAML or JSON, current or legacy form) as kube-apiserver does,
// strictly: unknown fields and bad syntax are errors that wrap ErrInvalidConfig and name
// path. It does not validate keys; Validate does.
func ParseConfig(path string, data []byte) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, refused(path, errors.New("the file is empty"))
	}
	obj, gvk, err := codecs.UniversalDeserializer().Decode(data, nil, nil)
	if err != nil {
		if kind := kindOf(data); kind != "" && kind != "EncryptionConfiguration" && kind != "EncryptionConfig" {
			return nil, refused(path, fmt.Errorf("it is a %s, not an EncryptionConfiguration", kind))
		}
		// The decoder quotes the whole document in these two, keys included.
		if runtime.IsMissingKind(err) || runtime.IsMissingVersion(err) {
			return nil, refused(path, errors.New("it has no kind or apiVersion: an encryption config starts with apiVersion: apiserver.config.k8s.io/v1 and kind: EncryptionConfiguration"))
		}
		return nil, refusedQuoting(path, err, data)
	}
	spec, ok := obj.(*apiserverv1.EncryptionConfiguration)
	if !ok {
		return nil, refused(path, fmt.Errorf("it is a %s, not an EncryptionConfiguration", gvk.Kind))
	}
	return &Config{
		Path:     path,
		Legacy:   gvk.Kind == "EncryptionConfig",
		Comments: hasComments(data),
		spec:     *spec,
	}, nil
}

// kindOf returns the kind data declares, "" when it does not decode that far.
func kindOf(data []byte) string {
	var tm struct {
		Kind string `json:"kind"`
	}
	if sigsyaml.Unmarshal(data, &tm) != nil {
		return ""
	}
	return tm.Kind
}

func hasComments(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			return true
		}
	}
	return false
}

func refused(path string, err error) error {
	if path == "" {
		path = "the encryption config"
	}
	return &ConfigError{Path: path, Err: err}
}

// keyLike is a run of base64's alphabet as long as the shortest real key (16 bytes).
var keyLike = regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)

// kinds are the long words of the config's own vocabulary that a decoder names.
var kinds = map[string]bool{"EncryptionConfiguration": true, "EncryptionConfig": true}

// refusedQuoting refuses data whose decoding failed. The YAML decoder quotes what it
// could not read (a mapping used as a key is printed whole, a secret in it included), and
// the document did not decode, so its secrets cannot be told from the rest: every run of
// key-like text the message copied from the document is blanked.
func refusedQuoting(path string, err error, data []byte) error {
	msg := keyLike.ReplaceAllStringFunc(err.Error(), func(run string) string {
		if kinds[run] || !bytes.Contains(data, []byte(run)) {
			return run
		}
		return "…"
	})
	e := refused(path, errors.New(msg)).(*ConfigError)
	e.Msg = msg
	return e
}

// blankSecrets takes the config's secrets out of a message about it: a loader that
// refuses a value may quote it.
func (c *Config) blankSecrets(msg string) string {
	for _, r := range c.spec.Resources {
		for i := range r.Providers {
			keys := providerKeys(&r.Providers[i])
			if keys == nil {
				continue
			}
			for _, k := range *keys {
				if len(k.Secret) >= 8 {
					msg = strings.ReplaceAll(msg, k.Secret, "…")
				}
			}
		}
	}
	return msg
}

// ConfigError is a config kube-apiserver would refuse to start with.
type ConfigError struct {
	Path string // the file (host path), or a description for a generated config
	Msg  string // the loader's message with temporary paths replaced by Path; "" for Err's
	Err  error
	// Planned is true for a config this step built from the user's choices.
	Planned bool
}

// Error names the file, says what kube-apiserver would do, and gives the loader's reason.
func (e *ConfigError) Error() string {
	msg := e.Reason()
	if e.Planned {
		return fmt.Sprintf("the config planned for %s was refused by kube-apiserver's own loader, so nothing was planned: %s; check the resources and names you chose", e.Path, msg)
	}
	return fmt.Sprintf("%s: kube-apiserver would not start with it: %s; fix the file (keep the keys in it: values in etcd may need them)", e.Path, e.Reason())
}

// Reason is the loader's (or the check's) reason alone, without the file's name.
func (e *ConfigError) Reason() string {
	if e.Msg != "" {
		return e.Msg
	}
	return e.Err.Error()
}

// Unwrap returns the loader's error.
func (e *ConfigError) Unwrap() error { return e.Err }

// Is matches ErrInvalidConfig.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidConfig }

// Entries returns the resource entries without secrets, in file order.
func (c *Config) Entries() []Entry {
	out := make([]Entry, 0, len(c.spec.Resources))
	for _, r := range c.spec.Resources {
		e := Entry{Resources: append([]string(nil), r.Resources...)}
		for _, p := range r.Providers {
			e.Providers = append(e.Providers, providerRef(p))
		}
		out = append(out, e)
	}
	return out
}

func providerRef(p apiserverv1.ProviderConfiguration) ProviderRef {
	names := func(keys []apiserverv1.Key) []string {
		out := make([]string, len(keys))
		for i, k := range keys {
			out[i] = k.Name
		}
		return out
	}
	switch {
	case p.Secretbox != nil:
		return ProviderRef{Type: Secretbox, Keys: names(p.Secretbox.Keys)}
	case p.AESGCM != nil:
		return ProviderRef{Type: AESGCM, Keys: names(p.AESGCM.Keys)}
	case p.AESCBC != nil:
		return ProviderRef{Type: AESCBC, Keys: names(p.AESCBC.Keys)}
	case p.KMS != nil:
		return ProviderRef{Type: KMS, KMSVersion: kmsVersion(p.KMS), Name: p.KMS.Name, Endpoint: p.KMS.Endpoint}
	case p.Identity != nil:
		return ProviderRef{Type: Identity}
	}
	return ProviderRef{}
}

func kmsVersion(k *apiserverv1.KMSConfiguration) string {
	if k.APIVersion == "" {
		return "v1"
	}
	return k.APIVersion
}

// KeyIDs returns the ids of the keys a value may be stored with, in the form Status
// reports them: "<provider>:<key>" ("aescbc:key1") and "kms:<version>:<name>".
func (r ProviderRef) KeyIDs() []string {
	switch r.Type {
	case KMS:
		return []string{"kms:" + r.KMSVersion + ":" + r.Name}
	case Identity:
		return nil
	}
	out := make([]string, len(r.Keys))
	for i, k := range r.Keys {
		out[i] = string(r.Type) + ":" + k
	}
	return out
}

// Lookup returns the index of the entry kube-apiserver uses for resource ("secrets",
// "pandas.awesome.bears.example"): an exact match first, then "*.<group>", then "*.*";
// -1 when none covers it.
func (c *Config) Lookup(resource string) int {
	gr := schema.ParseGroupResource(resource)
	candidates := []schema.GroupResource{gr, {Group: gr.Group, Resource: "*"}, {Group: "*", Resource: "*"}}
	for _, want := range candidates {
		for i, r := range c.spec.Resources {
			for _, res := range r.Resources {
				if schema.ParseGroupResource(res) == want {
					return i
				}
			}
		}
	}
	return -1
}

// KeyIDs returns the ids (see ProviderRef.KeyIDs) of every key that can read resource;
// with resource "" those of the whole config.
func (c *Config) KeyIDs(resource string) map[string]bool {
	out := map[string]bool{}
	for i, e := range c.Entries() {
		if resource != "" && i != c.Lookup(resource) {
			continue
		}
		for _, p := range e.Providers {
			for _, id := range p.KeyIDs() {
				out[id] = true
			}
		}
	}
	return out
}

// Summary describes the config in one line, without secrets.
func (c *Config) Summary() string {
	var parts []string
	for _, e := range c.Entries() {
		var provs []string
		for _, p := range e.Providers {
			s := string(p.Type)
			switch {
			case p.Type == KMS:
				s += "(" + p.KMSVersion + ":" + p.Name + ")"
			case len(p.Keys) > 0:
				s += "(" + strings.Join(p.Keys, ",") + ")"
			}
			provs = append(provs, s)
		}
		parts = append(parts, strings.Join(e.Resources, ",")+": "+strings.Join(provs, " > "))
	}
	name := c.Path
	if name == "" {
		name = "new config"
	}
	return name + " [" + strings.Join(parts, "; ") + "]"
}

// Format prints Summary for every verb, so the keys never reach a log.
func (c *Config) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, c.Summary()) }

// YAML returns the config as written to disk: the current apiVersion and kind, a header
// comment, fields in a fixed order. It holds the keys.
func (c *Config) YAML(header string) ([]byte, error) { return c.encode(header, false) }

// MaskedYAML returns YAML with every secret replaced by Masked, for display.
func (c *Config) MaskedYAML(header string) string {
	b, err := c.encode(header, true)
	if err != nil {
		return ""
	}
	return string(b)
}

// StandInYAML returns YAML with every secret replaced by a stand-in that Judge rates
// the same way: as many zero bytes as the secret holds when it is base64, a marker that
// is not base64 when it is not. It holds no key, so it can go where the real file must
// not (the copy the plan's audit reads).
func (c *Config) StandInYAML() ([]byte, error) {
	s := &Config{Path: c.Path, spec: *c.spec.DeepCopy()}
	for i := range s.spec.Resources {
		for j := range s.spec.Resources[i].Providers {
			keys := providerKeys(&s.spec.Resources[i].Providers[j])
			if keys == nil {
				continue
			}
			for k := range *keys {
				(*keys)[k].Secret = standIn((*keys)[k].Secret)
			}
		}
	}
	return s.YAML("")
}

func standIn(secret string) string {
	if secret == "" {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		return "not-base64!"
	}
	return base64.StdEncoding.EncodeToString(make([]byte, len(b)))
}

type yamlConfig struct {
	APIVersion string         `yaml:"apiVersion"`
	Kind       string         `yaml:"kind"`
	Resources  []yamlResource `yaml:"resources"`
}

type yamlResource struct {
	Resources []string       `yaml:"resources"`
	Providers []yamlProvider `yaml:"providers"`
}

type yamlProvider struct {
	Secretbox *yamlKeys `yaml:"secretbox,omitempty"`
	AESGCM    *yamlKeys `yaml:"aesgcm,omitempty"`
	AESCBC    *yamlKeys `yaml:"aescbc,omitempty"`
	KMS       *yamlKMS  `yaml:"kms,omitempty"`
	Identity  *struct{} `yaml:"identity,omitempty"`
}

type yamlKeys struct {
	Keys []yamlKey `yaml:"keys"`
}

type yamlKey struct {
	Name   string `yaml:"name"`
	Secret string `yaml:"secret"`
}

type yamlKMS struct {
	APIVersion string `yaml:"apiVersion,omitempty"`
	Name       string `yaml:"name"`
	Endpoint   string `yaml:"endpoint"`
	CacheSize  *int32 `yaml:"cachesize,omitempty"`
	Timeout    string `yaml:"timeout,omitempty"`
}

func (c *Config) encode(header string, mask bool) ([]byte, error) {
	out := yamlConfig{APIVersion: apiserverv1.SchemeGroupVersion.String(), Kind: "EncryptionConfiguration"}
	for _, r := range c.spec.Resources {
		yr := yamlResource{Resources: r.Resources}
		for _, p := range r.Providers {
			yr.Providers = append(yr.Providers, yamlProviderOf(p, mask))
		}
		out.Resources = append(out.Resources, yr)
	}
	var buf bytes.Buffer
	for _, line := range strings.Split(strings.TrimSpace(header), "\n") {
		if line != "" {
			buf.WriteString("# " + line + "\n")
		}
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode the encryption config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the encryption config: %w", err)
	}
	return buf.Bytes(), nil
}

func yamlProviderOf(p apiserverv1.ProviderConfiguration, mask bool) yamlProvider {
	keys := func(in []apiserverv1.Key) *yamlKeys {
		out := &yamlKeys{}
		for _, k := range in {
			s := k.Secret
			if mask {
				s = Masked
			}
			out.Keys = append(out.Keys, yamlKey{Name: k.Name, Secret: s})
		}
		return out
	}
	switch {
	case p.Secretbox != nil:
		return yamlProvider{Secretbox: keys(p.Secretbox.Keys)}
	case p.AESGCM != nil:
		return yamlProvider{AESGCM: keys(p.AESGCM.Keys)}
	case p.AESCBC != nil:
		return yamlProvider{AESCBC: keys(p.AESCBC.Keys)}
	case p.KMS != nil:
		k := &yamlKMS{APIVersion: p.KMS.APIVersion, Name: p.KMS.Name, Endpoint: p.KMS.Endpoint, CacheSize: p.KMS.CacheSize}
		if p.KMS.Timeout != nil {
			k.Timeout = formatDuration(p.KMS.Timeout.Duration)
		}
		return yamlProvider{KMS: k}
	case p.Identity != nil:
		return yamlProvider{Identity: &struct{}{}}
	}
	// A provider that names none (a bare "-") stays empty, so a rewrite is refused as the
	// original was rather than turned into identity.
	return yamlProvider{}
}

// formatDuration writes "15s" rather than time.Duration's "15s"/"1m0s" mix where it can.
func formatDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return d.String()
}

// Resources returns every resource the config names, in order and without duplicates
// (wildcards included), for example to pass to Status.
func (c *Config) Resources() []string {
	var out []string
	for _, r := range c.spec.Resources {
		for _, res := range r.Resources {
			if !slices.Contains(out, res) {
				out = append(out, res)
			}
		}
	}
	return out
}
