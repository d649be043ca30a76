package commands

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
)

func newLabRewriteCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rewrite [--dir DIR]",
		Short: "Rewrite every Secret through the lab's encryption config (the lab's kubectl replace)",
		Long: `rewrite stands in for ` + "`kubectl get secrets -A -o json | kubectl replace -f -`" + `, which on a
real cluster makes kube-apiserver store every Secret again under its encryption config.
The lab has no kube-apiserver: this reads kube-apiserver.yaml's --encryption-provider-config
with kube-apiserver's own loader and rewrites each Secret (and ConfigMap, when the config
covers them) in the running lab's etcd.`,
		Example: `  etcd-harden lab rewrite --dir ./lab-root && etcd-harden encryption status --root ./lab-root`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			root, err := lab.Root(dir)
			if err != nil {
				return labFolderError(err)
			}
			env, err := lab.EnvFor(root)
			if err != nil {
				return labFolderError(err)
			}
			cli, err := lab.ClientFromEnv(cmd.Context(), env)
			if err != nil {
				return err
			}
			defer cli.Close()
			rep, err := lab.RewriteSecrets(cmd.Context(), root, cli, nil)
			if err != nil {
				return err
			}
			for _, r := range rep.Resources {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d rewritten through %s (%d were plaintext or under an older key)\n", r.Resource, r.Rewritten, rep.Config, r.Stale)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "note: "+rep.Note)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "The lab's folder (default the lab started last)")
	return cmd
}
