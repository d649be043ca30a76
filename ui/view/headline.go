// Package view turns domain results into the renderer's blocks that both front doors
// show, the subcommands and the wizard: the audit's check list and its headline, the
// snapshot test's facts, checks, schedule and progress, and the words for an apply's
// events. It draws nothing itself (render does) and holds no step.
package view

import (
	"fmt"
	"slices"
	"strings"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
)

// news says in words what a failing check means for the cluster, most important first:
// the order the headline names failures in. Checks not listed come last, by ID.
var news = []struct{ id, words string }{
	{"2.1", "etcd serves plain http"},
	{"1.2.27", "Secrets are stored in plaintext"},
	{"1.2.28", "the encryption config does not protect Secrets"},
	{"2.2", "etcd accepts clients without a certificate"},
	{"1.2.23", "kube-apiserver reaches etcd without a client certificate"},
	{"1.2.26", "kube-apiserver does not verify etcd's certificate"},
	{"2.4", "etcd peers talk plain http"},
	{"2.5", "etcd accepts peers without a certificate"},
	{"2.3", "etcd serves clients a self-signed auto-TLS certificate"},
	{"2.6", "etcd peers use self-signed auto-TLS"},
	{"2.7", "etcd trusts the Kubernetes CA, not a CA of its own"},
	{"1.1.7", "others can read or change etcd.yaml"},
	{"1.1.11", "other users can read etcd's data"},
}

// impliedBy: a failure whose news another failure already gives (no encryption flag:
// the config cannot protect anything either). It is counted but not named twice.
var impliedBy = map[string]string{"1.2.28": "1.2.27"}

// headlineNames is how many failures the headline names before "and N more".
const headlineNames = 3

// Headline is the one line that opens the check list, in every backend and in `audit`:
// how many checks fail, and the worst failures in words, e.g. "9 of 13 checks fail: etcd
// serves plain http, Secrets are stored in plaintext, etcd accepts clients without a
// certificate, and 6 more; 1 warning." Its counts are those of checks.
func Headline(checks []audit.Check) string {
	n := audit.Count(checks)
	fails, warns, total := n[audit.Fail], n[audit.Warn], len(checks)
	switch {
	case total == 0:
		return "No checks ran."
	case fails == 0 && warns == 0:
		return fmt.Sprintf("All %d checks pass.", total)
	case fails == 0:
		return fmt.Sprintf("None of the %d checks fails; %d %s: %s.", total, warns, plural(warns, "warns", "warn"), strings.Join(ids(checks, audit.Warn), ", "))
	}
	named := failureNews(checks)
	if len(named) > headlineNames {
		named = named[:headlineNames]
	}
	line := fmt.Sprintf("%d of %d %s: %s", fails, total, plural(fails, "checks fails", "checks fail"), strings.Join(named, ", "))
	if more := fails - len(named); more > 0 {
		line += fmt.Sprintf(", and %d more", more)
	}
	if warns > 0 {
		line += fmt.Sprintf("; %d %s", warns, plural(warns, "warning", "warnings"))
	}
	return line + "."
}

// failureNews returns the words for the failing checks, most important first.
func failureNews(checks []audit.Check) []string {
	failing := map[string]bool{}
	for _, c := range checks {
		if c.Status == audit.Fail {
			failing[c.ID] = true
		}
	}
	var out []string
	for _, n := range news {
		if failing[n.id] && !failing[impliedBy[n.id]] {
			out = append(out, n.words)
		}
	}
	for _, c := range checks {
		known := slices.ContainsFunc(news, func(n struct{ id, words string }) bool { return n.id == c.ID })
		if c.Status == audit.Fail && !known {
			out = append(out, "check "+c.ID)
		}
	}
	return out
}

func ids(checks []audit.Check, s audit.Status) []string {
	var out []string
	for _, c := range checks {
		if c.Status == s {
			out = append(out, c.ID)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Checks turns audit checks into the renderer's check list.
func Checks(cs []audit.Check) []render.Check {
	out := make([]render.Check, len(cs))
	for i, c := range cs {
		out[i] = render.Check{ID: c.ID, Title: c.Title, Status: render.Status(c.Status), Detail: c.Detail, Fix: c.Fix}
	}
	return out
}
