package commands

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

func newCertsCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check etcd's certificates",
		Args:  usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newCertsCheckCmd(g))
	return cmd
}

// certsReport is what `certs check -o json` prints.
type certsReport struct {
	Pairs  []certs.Row   `json:"pairs"`
	Checks []certs.Check `json:"checks"`
	// Cluster are the cluster-wide checks when etcd has several members.
	Cluster []audit.Check `json:"cluster,omitempty"`
}

func newCertsCheckCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Validate the CA, server, peer and client certificates, check by check",
		Long: `certs check finds etcd's CA, server, peer and client pairs (from the flags in etcd.yaml and
kube-apiserver.yaml, then kubeadm's layout under --pki-dir) and checks each: PEM parses, the
key matches, the chain verifies to the CA, the dates, the SANs against the advertised URLs,
the key usages, file modes and owners, and that etcd has a CA of its own (CIS 2.7).
Like kubeadm certs check-expiration, but for every check. Exits 1 when a check fails.`,
		Example: `  etcd-harden certs check
  etcd-harden certs check -o json | jq '.pairs[] | {name, days_left}'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.report(output)
			if err != nil {
				return err
			}
			now := time.Now()
			pairs := certs.Discover(st)
			checks := certs.Validate(st, pairs, now)
			report := certsReport{Pairs: certs.Table(pairs, checks, now), Checks: checks, Cluster: clusterChecks(cmd.Context(), g, st)}
			return checked{json: report, failed: certs.Failed(checks), text: func(w io.Writer) error {
				return printCertsTable(w, g.renderer(w), st.Layout, report)
			}}.print(cmd.OutOrStdout(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or text")
	return cmd
}

// nodePath shows a host path as the node sees it, without the --root prefix.
func nodePath(l discover.Layout, hostPath string) string {
	if l.Root == "/" {
		return hostPath
	}
	return "/" + l.Rel(hostPath)
}

// printCertsTable prints one row per pair, then the checks that did not pass.
// Paths are shown as the node sees them (relative to --root).
func printCertsTable(w io.Writer, r render.Renderer, l discover.Layout, rep certsReport) error {
	table := render.Table{Header: []string{"PAIR", "ROLE", "PATH", "SUBJECT", "EXPIRES", "DAYS LEFT", "STATUS"}}
	for _, row := range rep.Pairs {
		expires, days := "-", "-"
		if !row.Expires.IsZero() {
			expires, days = row.Expires.Format("2006-01-02"), fmt.Sprint(row.DaysLeft)
		}
		subject := row.Subject
		if subject == "" {
			subject = "-"
		}
		table.Rows = append(table.Rows, []string{row.Name, string(row.Role), nodePath(l, row.Path), subject, expires, days, string(row.Status)})
	}
	if _, err := fmt.Fprintln(w, r.Table(table, 0)); err != nil {
		return err
	}
	var problems []render.Check
	for _, c := range rep.Checks {
		if c.Status != certs.Pass {
			// The message ends with the fix; the renderer shows the fix on its own line.
			detail := strings.TrimSuffix(strings.TrimSuffix(c.Message, c.Fix), "; ")
			problems = append(problems, render.Check{ID: c.Pair, Title: c.Name, Status: render.Status(c.Status),
				Detail: strings.ReplaceAll(detail, l.Root+"/", "/"), Fix: c.Fix})
		}
	}
	if len(rep.Cluster) > 0 {
		defer fmt.Fprintln(w, "\nThe cluster, as etcd shows it:\n"+r.Checks(view.Checks(rep.Cluster), 0))
	}
	if len(problems) == 0 {
		_, err := fmt.Fprintln(w, "\nEvery check passed.")
		return err
	}
	_, err := fmt.Fprintln(w, "\n"+r.Checks(problems, 0))
	return err
}
