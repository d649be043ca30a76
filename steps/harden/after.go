package harden

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// AuditAfter runs the CIS checks on the node as p would leave it, without touching the
// node. The audit reads real files (manifests, the encryption config, the etcd and
// Kubernetes CA certificates, the modes of etcd.yaml and of etcd's data folder), so
// AuditAfter lays out exactly those files in a private temporary root that mirrors the
// node's paths: the manifests and CAs with their planned content and modes, the data
// folder as an empty folder with its mode. The encryption config is written with stand-in
// keys and no private key is copied, so no secret reaches the temporary folder.
// Paths in the results name the node's files, not the mirror's.
func AuditAfter(p *plan.Plan, s *discover.State) ([]audit.Check, error) {
	ps, err := PlannedState(p, s)
	if err != nil {
		return nil, err
	}
	return auditAfter(p, s, ps)
}

// auditAfter is AuditAfter with the planned state at hand.
func auditAfter(p *plan.Plan, s, ps *discover.State) ([]audit.Check, error) {
	tmp, err := os.MkdirTemp("", "etcd-harden-audit-")
	if err != nil {
		return nil, fmt.Errorf("audit the plan: %w", err)
	}
	defer os.RemoveAll(tmp)
	m := &mirror{p: p, l: s.Layout, dir: tmp}
	for _, man := range []*discover.Manifest{ps.Etcd, ps.APIServer} {
		if man != nil {
			m.file(man.RelPath, nil)
		}
	}
	if e := ps.Etcd; e != nil {
		if ca, ok := flagOrEnv(e, "trusted-ca-file"); ok {
			m.file(s.Layout.Rel(ps.HostFile(e, ca)), nil)
		}
		if dir, ok := flagOrEnv(e, "data-dir"); ok {
			if host, mapped := e.HostPath(dir); mapped {
				m.folder(s.Layout.Rel(host))
			}
		}
	}
	if a := ps.APIServer; a != nil {
		if ca, ok := a.Flag("client-ca-file"); ok && ca != "" {
			m.file(s.Layout.Rel(ps.HostFile(a, ca)), nil)
		}
		if cfg, ok := a.Flag(encryption.ConfigFlag); ok && filepath.IsAbs(cfg) {
			m.file(s.Layout.Rel(ps.HostFile(a, cfg)), maskConfig)
		}
	}
	if m.err != nil {
		return nil, fmt.Errorf("audit the plan in %s: %w", tmp, m.err)
	}
	ml := discover.Layout{Root: tmp, ManifestsDir: m.path(s.Layout.Rel(s.Layout.ManifestsDir)),
		PKIDir: m.path(s.Layout.Rel(s.Layout.PKIDir))}
	ms, err := discover.Load(ml)
	if err != nil {
		return nil, fmt.Errorf("audit the plan: %w", err)
	}
	checks := audit.Run(ms, audit.Options{})
	root := strings.TrimSuffix(s.Layout.Root, string(filepath.Separator))
	for i := range checks {
		c := &checks[i]
		c.Detail = strings.ReplaceAll(c.Detail, tmp, root)
		c.Fix = strings.ReplaceAll(c.Fix, tmp, root)
		c.Target = strings.ReplaceAll(c.Target, tmp, root)
	}
	return checks, nil
}

// mirror writes files of the planned node into dir at their paths relative to the root.
type mirror struct {
	p   *plan.Plan
	l   discover.Layout
	dir string
	err error
}

func (m *mirror) path(rel string) string { return filepath.Join(m.dir, filepath.FromSlash(rel)) }

// file mirrors the planned content of rel (skipped when it exists neither in the plan
// nor on disk, as the audit would find it); filter may rewrite the content.
func (m *mirror) file(rel string, filter func(path string, data []byte) []byte) {
	if m.err != nil || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, "../") {
		return
	}
	data, err := m.p.Current(rel)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		m.err = err
		return
	}
	mode := fs.FileMode(0o644)
	if c := m.p.Find(rel); c != nil {
		mode = c.Mode
	} else if fi, err := os.Stat(m.l.Host("/" + rel)); err == nil {
		mode = fi.Mode().Perm()
	}
	if filter != nil {
		if data = filter(m.l.Host("/"+rel), data); data == nil {
			return
		}
	}
	target := m.path(rel)
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		m.err = err
		return
	}
	if err := os.WriteFile(target, data, 0o600); err != nil {
		m.err = err
		return
	}
	m.err = os.Chmod(target, mode)
}

// dir mirrors a folder of the node with its mode, when it exists.
func (m *mirror) folder(rel string) {
	if m.err != nil || strings.HasPrefix(rel, "/") || strings.HasPrefix(rel, "../") {
		return
	}
	fi, err := os.Stat(m.l.Host("/" + rel))
	if err != nil || !fi.IsDir() {
		return
	}
	mode := fi.Mode().Perm()
	if c := m.p.Find(rel); c != nil && c.Dir {
		mode = c.Mode.Perm() // a mode the plan sets (PlanModes)
	}
	target := m.path(rel)
	if err := os.MkdirAll(target, 0o700); err != nil {
		m.err = err
		return
	}
	m.err = os.Chmod(target, mode)
}

// maskConfig replaces an encryption config by the same config with stand-in keys that
// the audit judges as it would the real ones (see encryption.Config.StandInYAML), so no
// key reaches the mirror. A config that does not decode is kept out (it may hold keys),
// so the audit fails it as it would a missing file.
func maskConfig(path string, data []byte) []byte {
	cfg, err := encryption.ParseConfig(path, data)
	if err != nil {
		return nil
	}
	out, err := cfg.StandInYAML()
	if err != nil {
		return nil
	}
	return out
}

// flagOrEnv returns an etcd setting from its flag, else from its ETCD_* variable, as
// etcd reads them.
func flagOrEnv(m *discover.Manifest, name string) (string, bool) {
	if v, ok := m.Flag(name); ok && v != "" {
		return v, true
	}
	env := "ETCD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	if v, ok := m.Env(env); ok && v != "" {
		return v, true
	}
	return "", false
}
