package harden

import (
	"fmt"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// RemainingSteps returns what the user must still do once r.Plan is applied, in order:
// the restart order, step 1's own steps (key backup, rewriting the stored objects), the
// etcd CA key's backup, the next certificate expiry and the checks the plan cannot fix.
func RemainingSteps(r *Result) []string {
	s := r.State
	var steps []string
	if touches(r.Plan, s.Etcd) || touches(r.Plan, s.APIServer) {
		steps = append(steps, "Restart in this order: etcd first (the kubelet restarts it when etcd.yaml changes); wait until it answers over TLS ("+
			healthCommand(r, s)+"); then kube-apiserver. With several control-plane nodes, do one node at a time and wait until etcd and kube-apiserver are healthy before the next.")
	}
	if r.Encryption != nil {
		steps = append(steps, r.Encryption.RemainingSteps...)
	}
	if g := r.Certs; g != nil && g.Generated != nil {
		if ca := certs.Find(g.Pairs, certs.PairCA); ca != nil && g.Generated.NewCA {
			steps = append(steps, fmt.Sprintf("Keep a copy of the new etcd CA key %s somewhere safe outside the cluster; with several control-plane nodes, copy %s and %s to each of them before planning there, so every member's certificates come from the same CA.",
				nodePath(s, ca.Key.Path), nodePath(s, ca.Cert.Path), nodePath(s, ca.Key.Path)))
		}
	}
	if e, ok := NextExpiry(r); ok {
		days := int(e.NotAfter.Sub(r.Now).Hours() / 24)
		steps = append(steps, fmt.Sprintf("The next certificate to expire is %s, on %s (in %d days): renew it before then (`etcd-harden certs check` lists every date).",
			e.Path, e.NotAfter.UTC().Format("2006-01-02"), days))
	}
	for _, c := range r.After {
		if c.Status == audit.Fail {
			steps = append(steps, fmt.Sprintf("CIS %s still fails after this plan (%s): %s", c.ID, c.Detail, c.Fix))
		}
	}
	return steps
}

// touches reports whether p changes m's content (a mode change restarts nothing).
func touches(p *plan.Plan, m *discover.Manifest) bool {
	if m == nil {
		return false
	}
	c := p.Find(m.RelPath)
	return c != nil && !c.ModeOnly()
}

func nodePath(s *discover.State, host string) string {
	rel := s.Layout.Rel(host)
	if strings.HasPrefix(rel, "/") {
		return rel
	}
	return "/" + rel
}

// healthCommand is the etcdctl command that checks etcd over the planned TLS.
func healthCommand(r *Result, s *discover.State) string {
	endpoint := "https://127.0.0.1:2379"
	if ps, err := r.planned(); err == nil && ps.Etcd != nil {
		if v, ok := ps.Etcd.Flag("advertise-client-urls"); ok && v != "" {
			endpoint = strings.Split(v, ",")[0]
		}
	}
	cmd := "etcdctl --endpoints=" + endpoint
	if r.Certs != nil {
		ca, hc := certs.Find(r.Certs.Pairs, certs.PairCA), certs.Find(r.Certs.Pairs, certs.PairHealthcheck)
		if ca != nil && hc != nil {
			cmd += " --cacert=" + nodePath(s, ca.Cert.Path) + " --cert=" + nodePath(s, hc.Cert.Path) + " --key=" + nodePath(s, hc.Key.Path)
		}
	}
	return "`" + cmd + " endpoint health`"
}

// planned returns r.Planned, or works it out for a Result built by hand.
func (r *Result) planned() (*discover.State, error) {
	if r.Planned != nil {
		return r.Planned, nil
	}
	return PlannedState(r.Plan, r.State)
}

// Expiry is the end date of one certificate as the plan leaves it.
type Expiry struct {
	Pair     string
	Path     string // the node path, "/etc/kubernetes/pki/etcd/server.crt"
	NotAfter time.Time
}

// NextExpiry returns the certificate of r's pairs that expires first, reading each
// one as the plan leaves it (a generated one from the plan, others from disk).
func NextExpiry(r *Result) (Expiry, bool) {
	s := r.State
	var next Expiry
	found := false
	if r.Certs == nil {
		return next, false
	}
	for _, pr := range r.Certs.Pairs {
		data, err := r.Plan.Current(s.Layout.Rel(pr.Cert.Path))
		if err != nil {
			continue
		}
		cs, err := certs.ParseCerts(data)
		if err != nil || len(cs) == 0 {
			continue
		}
		if !found || cs[0].NotAfter.Before(next.NotAfter) {
			next, found = Expiry{Pair: pr.Name, Path: nodePath(s, pr.Cert.Path), NotAfter: cs[0].NotAfter}, true
		}
	}
	return next, found
}
