package harden

import (
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// PlanModes adds to p the file modes the checks ask for and the node lacks: every
// failing CIS check and every certificate check whose fix is a chmod (etcd.yaml 0600
// for 1.1.7, etcd's data folder 0700 for 1.1.11, private keys 0600), plus
// kube-apiserver.yaml 0600 (CIS 1.1.1, which the audit does not run). audits are the
// CIS checks of the node, keys the certificate checks of the pairs as the plan leaves
// them. A path outside the root, or one the plan cannot change, is left to the fix the
// check prints.
func PlanModes(p *plan.Plan, s *discover.State, audits []audit.Check, keys []certs.Check) error {
	fix := func(host string, mode fs.FileMode, reason string) error {
		rel := s.Layout.Rel(host)
		if strings.HasPrefix(rel, "/") {
			return nil
		}
		return p.Chmod(rel, mode, reason)
	}
	for _, c := range audits {
		if mode, host, ok := chmodFix(c.Fix); ok && c.Status == audit.Fail {
			if err := fix(host, mode, "CIS "+c.ID+": "+c.Fix); err != nil {
				return err
			}
		}
	}
	for _, c := range keys {
		if mode, host, ok := chmodFix(c.Fix); ok && c.Status != certs.Pass && c.Name == certs.CheckKeyMode {
			if err := fix(host, mode, "private key of "+c.Pair+" readable by others: "+c.Fix); err != nil {
				return err
			}
		}
	}
	if api := s.APIServer; api != nil {
		if err := apiserverMode(p, api); err != nil {
			return err
		}
	}
	return nil
}

// apiserverMode plans kube-apiserver.yaml 0600 when it is more open than that, the
// rule audit's 1.1.7 applies to etcd.yaml.
func apiserverMode(p *plan.Plan, api *discover.Manifest) error {
	var mode fs.FileMode
	if c := p.Find(api.RelPath); c != nil {
		mode = c.Mode.Perm()
	} else if fi, err := os.Lstat(api.Path); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	} else {
		return nil
	}
	if mode&^0o600 == 0 {
		return nil
	}
	return p.Chmod(api.RelPath, 0o600, "CIS 1.1.1: chmod 600 "+api.Path)
}

// chmodFix reads a check's fix of the form "chmod 600 /path".
func chmodFix(fix string) (fs.FileMode, string, bool) {
	f := strings.Fields(fix)
	if len(f) != 3 || f[0] != "chmod" {
		return 0, "", false
	}
	m, err := strconv.ParseUint(f[1], 8, 32)
	if err != nil || m > 0o777 {
		return 0, "", false
	}
	return fs.FileMode(m), f[2], true
}
