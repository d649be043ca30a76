package commands

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

func newAuditCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show what is hardened already, check by check (CIS 1.12)",
		Long: `audit reads etcd.yaml and kube-apiserver.yaml under --root and runs the CIS 1.12 checks
that files can answer: etcd 2.1-2.7, kube-apiserver 1.2.23, 1.2.26-1.2.28 and the file modes
1.1.7 and 1.1.11. It changes nothing. It exits 1 when a check fails.`,
		Example: `  etcd-harden audit
  etcd-harden audit -o json | jq '.[] | select(.status == "fail")'`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := g.report(output)
			if err != nil {
				return err
			}
			checks := audit.Run(st, audit.Options{})
			checks = append(checks, clusterChecks(cmd.Context(), g, st)...)
			return checked{json: checks, failed: audit.Failed(checks), text: func(w io.Writer) error {
				_, err := fmt.Fprintln(w, view.Headline(checks)+"\n"+g.renderer(w).Checks(view.Checks(checks), 0))
				return err
			}}.print(cmd.OutOrStdout(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or text")
	return cmd
}
