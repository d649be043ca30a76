package encryption

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"charm.land/huh/v2"

	enc "github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// providerOption is how each provider is offered: the short guidance the user needs
// to choose.
var providerOption = map[enc.Provider]string{
	enc.Secretbox: "secretbox — recommended",
	enc.AESGCM:    "aesgcm — only with automated rotation: new key every 200,000 writes",
	enc.AESCBC:    "aescbc — weak: padding-oracle; for FIPS rules or labs from a widely copied guide",
	enc.KMS:       "kms v2 — external KMS plugin; then its name and endpoint",
}

// formFor builds the questions whose answers are not known: those not preset, or all of
// them when editing. intro is set for the accessible form: the situation written out,
// since the plain driver shows no view before the form.
func (p *Step) formFor(ask func(key string) bool, intro string) *huh.Form {
	g := &step.Groups{Intro: intro}
	isKMS := func() bool { return p.a.provider == enc.KMS }
	// Questions that only one kind of provider needs are not asked when the provider
	// was given in advance and is the other kind.
	askKMS := func(k string) bool { return ask(k) && (ask(KeyProvider) || isKMS()) }
	askKey := func(k string) bool { return ask(k) && (ask(KeyProvider) || !isKMS()) }
	if ask(KeyProvider) {
		g.Add(nil, huh.NewSelect[enc.Provider]().Key(KeyProvider).
			Title("Provider of the new key").
			DescriptionFunc(func() string { _, g, _ := enc.ProviderInfo(p.a.provider); return g }, &p.a.provider).
			Options(providerOptions()...).Value(&p.a.provider))
	}
	var kms []huh.Field
	if askKMS(KeyKMSName) {
		kms = append(kms, huh.NewInput().Key(KeyKMSName).Title(g.Titled("KMS plugin name", p.a.kmsName)).
			Description("Stored in every encrypted value's prefix; must be unique in the config.").
			Validate(step.OrKept(&p.a.kmsName, validKMSName)).Value(&p.a.kmsName))
	}
	if askKMS(KeyKMSEndpoint) {
		kms = append(kms, huh.NewInput().Key(KeyKMSEndpoint).Title(g.Titled("KMS plugin endpoint", p.a.kmsEndpoint)).
			Placeholder("unix:///var/run/kms-plugin.sock").
			Validate(step.OrKept(&p.a.kmsEndpoint, validEndpoint)).Value(&p.a.kmsEndpoint))
	}
	if len(kms) > 0 {
		g.Add(func() bool { return !isKMS() }, kms...)
	}
	var res []huh.Field
	if ask(KeyResources) {
		opts := p.resourceOptions()
		res = append(res, huh.NewMultiSelect[string]().Key(KeyResources).
			Title("Resources to encrypt").
			Description("Secrets hold the credentials; ConfigMaps only when they hold sensitive data.").
			Options(opts...).Height(multiSelectHeight(opts)).Value(&p.a.resources))
	}
	if ask(KeyCustom) {
		res = append(res, huh.NewInput().Key(KeyCustom).Title("Other resources (comma-separated, may be empty)").
			Placeholder("e.g. events, leases.coordination.k8s.io").
			Validate(func(v string) error { return validResources(p.a.resources, v) }).Value(&p.a.custom))
	}
	if len(res) > 0 {
		g.Add(nil, res...)
	}
	if askKey(KeyKeyName) {
		g.Add(isKMS, huh.NewInput().Key(KeyKeyName).Title(g.Titled("Key name", p.a.keyName)).
			Description("Stored in each value's prefix (k8s:enc:<provider>:v1:<name>:), so you can tell keys apart.").
			Validate(validKeyName).Value(&p.a.keyName))
	}
	if p.hasConfig() && ask(KeyRotate) {
		g.Add(p.rotateForced, huh.NewSelect[bool]().Key(KeyRotate).
			Title("kube-apiserver already has a config: keep it or rotate?").
			Description("Rotating puts a new key first and keeps the old keys for reading values written before.").
			Options(huh.NewOption("keep the config as it is", false), huh.NewOption("rotate: add a new key first", true)).
			Value(&p.a.rotate))
		g.Add(func() bool { return !p.rotateForced() }, huh.NewNote().Title("The config will be rotated").
			Description("The config stores some of these resources in plaintext (identity first): a new key goes first and identity last."))
	}
	if retirable := p.retirable(); len(retirable) > 0 && ask(KeyRetireKeys) {
		opts := make([]huh.Option[string], len(retirable))
		for i, id := range retirable {
			opts[i] = huh.NewOption(id, id).Selected(slices.Contains(p.a.retire, id))
		}
		// None chosen by default: removing a key is the user's call, never a guess.
		g.Add(nil, huh.NewMultiSelect[string]().Key(KeyRetireKeys).
			Title("Old keys to retire").
			Description(fmt.Sprintf("etcd holds no value stored with these keys (scan at revision %d). A retired key leaves the config; choose none to keep them.", p.inUse.report.Revision)).
			Options(opts...).Height(multiSelectHeight(opts)).Value(&p.a.retire))
	}
	if ask(KeyAutoReload) {
		g.Add(nil, huh.NewConfirm().Key(KeyAutoReload).
			Title("Reload the config automatically?").
			Description("Adds --encryption-provider-config-automatic-reload: kube-apiserver re-reads the file when it changes, so later rotations need no restart.").
			Affirmative("Yes").Negative("No").Value(&p.a.autoReload))
	}
	return g.Form("What kube-apiserver has now")
}

// multiSelectHeight is the height of a multi-select of opts. huh v2 takes the title and
// the description (which wraps on a narrow terminal) out of it, so it counts them, with
// up to three lines of description; sized by huh alone, no line is left for the options.
func multiSelectHeight[T comparable](opts []huh.Option[T]) int { return len(opts) + 4 }

func providerOptions() []huh.Option[enc.Provider] {
	var opts []huh.Option[enc.Provider]
	for _, c := range enc.Choices() {
		label := providerOption[c]
		if label == "" {
			label, _, _ = enc.ProviderInfo(c)
		}
		opts = append(opts, huh.NewOption(label, c))
	}
	return opts
}

func (p *Step) resourceOptions() []huh.Option[string] {
	var opts []huh.Option[string]
	for _, r := range enc.ResourceChoices() {
		opts = append(opts, huh.NewOption(r, r).Selected(slices.Contains(p.a.resources, r)))
	}
	return opts
}

func validKMSName(v string) error {
	switch {
	case strings.TrimSpace(v) == "":
		return errors.New("the plugin's name is needed")
	case strings.Contains(v, ":"):
		return errors.New("the name must not contain ':'")
	}
	return nil
}

func validEndpoint(v string) error {
	if !strings.HasPrefix(strings.TrimSpace(v), "unix:///") {
		return errors.New("the endpoint is a unix socket: unix:///path/to/socket")
	}
	return nil
}

func validKeyName(v string) error {
	if strings.ContainsAny(strings.TrimSpace(v), ": \t") {
		return errors.New("the key name must not contain ':' or spaces")
	}
	return nil
}

func validRetireKeys(v string) error {
	for _, k := range splitList(v) {
		if strings.ContainsAny(k, " \t") || strings.HasPrefix(k, ":") || strings.HasSuffix(k, ":") {
			return fmt.Errorf("%q: give a key's name (key-2023) or provider:name (aescbc:key-2023)", k)
		}
	}
	return nil
}

func validResources(chosen []string, custom string) error {
	extra := splitList(custom)
	if len(chosen)+len(extra) == 0 {
		return errors.New("choose at least one resource (secrets is the usual one)")
	}
	for _, r := range extra {
		if strings.ToLower(r) != r || strings.ContainsAny(r, " \t") {
			return fmt.Errorf("%q: resources are lower case, as kubectl api-resources names them", r)
		}
	}
	return nil
}
