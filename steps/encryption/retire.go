package encryption

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
)

// ErrKeyInUse means a key asked to be retired (Options.RetireKeys) cannot go yet: etcd
// still holds values written with it, it is the key kube-apiserver writes with, or etcd
// could not be scanned to prove it is unused.
var ErrKeyInUse = errors.New("the key cannot be retired yet")

// retireError is a refusal to retire a key: its own words, matching ErrKeyInUse.
type retireError struct{ msg string }

func (e *retireError) Error() string        { return e.msg }
func (e *retireError) Is(target error) bool { return target == ErrKeyInUse }

// retirement is what retire removed from a config and what it noticed.
type retirement struct {
	IDs   []string // the key ids removed
	Notes []string
}

// retire removes from c the keys names name (a key id such as "aescbc:key-2023", or a
// key name when one provider of c has it), once inUse, a scan of etcd, shows that no
// value is stored with them. It refuses (ErrKeyInUse) without a scan (scanErr says why
// there is none), when the scan counts values under a key or cannot see every resource
// the key reads, and for the key an entry writes with. known are the node's other
// configs: one on the node that still holds a retired key is named in a note.
func retire(c *Config, names []string, inUse *StatusReport, scanErr error, known []Known) (*retirement, error) {
	ids, err := c.resolveKeys(names)
	if err != nil {
		return nil, err
	}
	if inUse == nil {
		why := "no scan was asked for"
		if scanErr != nil {
			why = scanErr.Error()
		}
		return nil, &retireError{fmt.Sprintf("retiring %s needs a scan of etcd that shows no value stored with it, and etcd was not scanned (%s); make etcd reachable (--endpoints, --cacert, --cert, --key, or the manifests' own) and plan again",
			strings.Join(ids, ", "), why)}
	}
	for _, id := range ids {
		if err := c.canRetire(id, inUse); err != nil {
			return nil, err
		}
	}
	r := &retirement{IDs: ids}
	for _, id := range ids {
		c.removeKey(id)
		r.Notes = append(r.Notes, fmt.Sprintf("key %s is removed from the config: the scan of etcd at revision %d found no value stored with it", id, inUse.Revision))
		for _, k := range known {
			if k.OnNode && k.Config.KeyIDs("")[id] {
				r.Notes = append(r.Notes, fmt.Sprintf("%s (%s) still holds key %s: the plan does not change that file; remove the key from it too, or the file, if the key must be gone from the node", k.Path, k.Where, id))
			}
		}
	}
	return r, nil
}

// retiring is the decision for a config that only loses keys: a copy of existing,
// written with the provider and key it writes with now.
func retiring(existing *Config) *decision {
	d := &decision{Action: ActionRetired, Config: &Config{Path: existing.Path, Legacy: existing.Legacy, Comments: existing.Comments, spec: *existing.spec.DeepCopy()}}
	for _, e := range existing.Entries() {
		if len(e.Providers) == 0 {
			continue
		}
		if first := e.Providers[0]; first.Type != Identity && d.Provider == "" {
			d.Provider = first.Type
			if first.Type == KMS {
				d.KeyName = first.Name
			} else if len(first.Keys) > 0 {
				d.KeyName = first.Keys[0]
			}
		}
		for _, p := range e.Providers[1:] {
			for _, id := range p.KeyIDs() {
				if !slices.Contains(d.OldKeys, id) {
					d.OldKeys = append(d.OldKeys, id)
				}
			}
		}
	}
	if d.Provider == "" {
		d.Provider = Identity
	}
	return d
}

// RetirableKeys are the key ids of c that a retirement would accept now, sorted: keys no
// entry writes with, under which inUse (a scan of etcd) counts no value, and whose
// resources the scan could cover. None without a scan: only a scan proves a key unused.
func RetirableKeys(c *Config, inUse *StatusReport) []string {
	if c == nil || inUse == nil {
		return nil
	}
	var out []string
	for id := range c.KeyIDs("") {
		if c.canRetire(id, inUse) == nil {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// resolveKeys turns names given to retire into key ids of c.
func (c *Config) resolveKeys(names []string) ([]string, error) {
	have := c.KeyIDs("")
	all := make([]string, 0, len(have))
	for id := range have {
		all = append(all, id)
	}
	slices.Sort(all)
	where := c.Path
	if where == "" {
		where = "the planned config"
	}
	var ids []string
	for _, name := range names {
		var match []string
		for _, id := range all {
			if id == name || keyNameOf(id) == name {
				match = append(match, id)
			}
		}
		switch {
		case len(match) == 0 && len(all) == 0:
			return nil, fmt.Errorf("key %q cannot be retired: %s has no key", name, where)
		case len(match) == 0:
			return nil, fmt.Errorf("key %q cannot be retired: %s has no such key; its keys are %s", name, where, strings.Join(all, ", "))
		case len(match) > 1:
			return nil, fmt.Errorf("key name %q is in several providers of %s (%s): give the one to retire as provider:name", name, where, strings.Join(match, ", "))
		}
		if !slices.Contains(ids, match[0]) {
			ids = append(ids, match[0])
		}
	}
	return ids, nil
}

// keyNameOf is the name part of a key id: "key1" of "aescbc:key1", "vault" of
// "kms:v2:vault".
func keyNameOf(id string) string { return id[strings.LastIndex(id, ":")+1:] }

// canRetire refuses id when an entry writes with it, when inUse counts values under it,
// or when it reads resources the scan could not see.
func (c *Config) canRetire(id string, inUse *StatusReport) error {
	for _, e := range c.Entries() {
		if !slices.ContainsFunc(e.Providers, func(p ProviderRef) bool { return slices.Contains(p.KeyIDs(), id) }) {
			continue
		}
		if w := e.Providers[0].KeyIDs(); len(w) > 0 && w[0] == id {
			return &retireError{fmt.Sprintf("key %s cannot be retired: kube-apiserver writes %s with it; rotate first (a new key first: plan --rotate, or encryption.rotate in the wizard), rewrite every value, then retire it",
				id, strings.Join(e.Resources, ", "))}
		}
		for _, r := range e.Resources {
			if slices.Contains(inUse.Skipped, r) {
				return &retireError{fmt.Sprintf("key %s cannot be retired: it reads %s, which a scan of etcd cannot cover (no etcd prefix of its own), so values stored with it may remain; name the resources in the entry one by one, or remove the key by hand once you know none uses it",
					id, r)}
			}
		}
	}
	var counts []string
	total := 0
	for _, rs := range inUse.Resources {
		for _, k := range rs.Keys {
			if k.ID == id && k.Count > 0 {
				counts = append(counts, fmt.Sprintf("%s %d", rs.Resource, k.Count))
				total += k.Count
			}
		}
	}
	if total == 0 {
		return nil
	}
	var resources []string
	for _, rs := range inUse.Resources {
		if slices.ContainsFunc(rs.Keys, func(k KeyCount) bool { return k.ID == id && k.Count > 0 }) {
			resources = append(resources, rs.Resource)
		}
	}
	return &retireError{fmt.Sprintf("key %s cannot be retired: etcd still holds %s stored with it (%s, at revision %d), which kube-apiserver could no longer read; rewrite them under the new key first (%s; in an etcd-harden lab: etcd-harden lab rewrite), check with `etcd-harden encryption status`, then plan again",
		id, values(total), strings.Join(counts, ", "), inUse.Revision, rewriteCommand(resources))}
}

// removeKey drops key id from every entry of c: the key from its provider's list, and
// the provider once it has no key left (a kms provider is its own key).
func (c *Config) removeKey(id string) {
	for i := range c.spec.Resources {
		e := &c.spec.Resources[i]
		e.Providers = slices.DeleteFunc(e.Providers, func(p apiserverv1.ProviderConfiguration) bool {
			ref := providerRef(p)
			if ref.Type == KMS || ref.Type == Identity {
				return slices.Contains(ref.KeyIDs(), id)
			}
			keys := providerKeys(&p)
			if keys == nil {
				return false
			}
			*keys = slices.DeleteFunc(*keys, func(k apiserverv1.Key) bool { return string(ref.Type)+":"+k.Name == id })
			return len(*keys) == 0
		})
	}
}
