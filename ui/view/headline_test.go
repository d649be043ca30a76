package view_test

import (
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

func TestHeadline(t *testing.T) {
	c := func(id string, s audit.Status) audit.Check { return audit.Check{ID: id, Status: s} }
	for _, tc := range []struct {
		name   string
		checks []audit.Check
		want   string
	}{
		{"worst first, implied not named twice", []audit.Check{
			c("1.1.7", audit.Fail), c("1.2.27", audit.Fail), c("1.2.28", audit.Fail), c("2.1", audit.Fail),
			c("2.2", audit.Fail), c("9.9", audit.Fail), c("2.3", audit.Pass), c("1.1.11", audit.Warn),
		}, "6 of 8 checks fail: etcd serves plain http, Secrets are stored in plaintext, etcd accepts clients without a certificate, and 3 more; 1 warning."},
		{"one", []audit.Check{c("1.1.7", audit.Fail), c("2.1", audit.Pass)},
			"1 of 2 checks fails: others can read or change etcd.yaml."},
		{"a check the table does not know", []audit.Check{c("9.9", audit.Fail), c("2.1", audit.Pass)},
			"1 of 2 checks fails: check 9.9."},
		{"warnings only", []audit.Check{c("1.1.11", audit.Warn), c("1.2.28", audit.Warn), c("2.1", audit.Pass)},
			"None of the 3 checks fails; 2 warn: 1.1.11, 1.2.28."},
		{"all pass", []audit.Check{c("2.1", audit.Pass), c("2.2", audit.Pass)}, "All 2 checks pass."},
	} {
		if got := view.Headline(tc.checks); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}
