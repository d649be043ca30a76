package commands

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
)

func newEncryptionCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "encryption",
		Short: "Encryption at rest: what etcd holds",
		Args:  usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newEncryptionStatusCmd(g))
	return cmd
}

func newEncryptionStatusCmd(g *globalOptions) *cobra.Command {
	var output string
	var resources []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Count how the Secrets in etcd are stored: plaintext or encrypted, by key",
		Long: `encryption status scans /registry/secrets/ (and every other resource the encryption
config names) over the etcd client, page by page, and counts the values by how they are
stored: k8s:enc:<provider>:v1:<key>:, k8s:enc:kms:v2:<name>:, or plaintext. It names the
first plaintext keys and says whether every key in use is in the config kube-apiserver.yaml
points at, judged as audit and plan judge it. It reads only. Exits 1 when a value is
plaintext or under a key the config lacks, or when kube-apiserver would refuse the config.`,
		Example: `  etcd-harden encryption status
  etcd-harden encryption status -o json | jq .plaintext`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := g.resolve(); err != nil {
				return err
			}
			scheduledMemory()
			conn, st, err := g.etcdConn()
			if err != nil {
				return err
			}
			var config *encryption.Config
			var configErr error
			if st != nil {
				cur, err := encryption.Locate(st)
				switch {
				case errors.Is(err, encryption.ErrInvalidConfig):
					configErr = err // judged as the audit and the plan judge it
				case err == nil && cur != nil && cur.Config != nil:
					config = cur.Config
				}
			}
			if len(resources) == 0 {
				resources = encryption.DefaultResources
				if config != nil {
					resources = config.Resources()
				}
			}
			// The connection check has its own few seconds; --timeout bounds the scan.
			report, err := encryption.Scan(cmd.Context(), conn, resources, config, timeout)
			if err != nil {
				return err
			}
			if configErr != nil {
				report.ConfigError = configErr.Error()
			}
			failed := report.Plaintext > 0 || len(report.MissingKeys) > 0 || report.ConfigError != ""
			return checked{json: report, failed: failed, text: func(w io.Writer) error {
				return printStatus(w, g.renderer(w), report)
			}}.print(cmd.OutOrStdout(), output)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or text")
	cmd.Flags().StringSliceVar(&resources, "resources", nil, "Resources to scan (default: those the encryption config names, else secrets)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "Give up after this long")
	return cmd
}

// printStatus shows the counts as facts and the verdict as checks.
func printStatus(w io.Writer, r render.Renderer, rep *encryption.StatusReport) error {
	facts := []render.Fact{
		{Key: "values", Value: fmt.Sprint(rep.Total)},
		{Key: "encrypted", Value: fmt.Sprint(rep.Encrypted)},
		{Key: "plaintext", Value: fmt.Sprint(rep.Plaintext)},
	}
	for _, res := range rep.Resources {
		facts = append(facts, render.Fact{Key: res.Resource, Value: fmt.Sprintf("%d values, %d encrypted, %d plaintext", res.Total, res.Encrypted, res.Plaintext)})
	}
	for _, k := range rep.Keys {
		facts = append(facts, render.Fact{Key: "key " + k.ID, Value: fmt.Sprintf("%d values", k.Count)})
	}
	plain := render.Check{ID: "plaintext", Title: "No value is stored in plaintext", Status: render.Pass, Detail: "every scanned value is encrypted"}
	if rep.Plaintext > 0 {
		plain.Status, plain.Detail = render.Fail, fmt.Sprintf("%d values in plaintext, e.g. %s", rep.Plaintext, strings.Join(rep.PlaintextKeys, ", "))
		plain.Fix = "restart kube-apiserver with the encryption config, then rewrite them: kubectl get secrets -A -o json | kubectl replace -f -"
	}
	checks := []render.Check{plain}
	if rep.ConfigError != "" {
		checks = append(checks, render.Check{ID: "config", Title: "kube-apiserver can start with the encryption config", Status: render.Fail,
			Detail: rep.ConfigError, Fix: "fix the file as the reason says, keeping every key in it; until then the key names in etcd were not checked against it"})
	}
	if rep.ConfigChecked {
		keys := render.Check{ID: "keys", Title: "Every key in use is in the config", Status: render.Pass, Detail: "kube-apiserver can read every value"}
		if len(rep.MissingKeys) > 0 {
			keys.Status, keys.Detail = render.Fail, "not in the config: "+strings.Join(rep.MissingKeys, ", ")
			keys.Fix = "put the old keys back after the new one in the encryption config until every value is rewritten"
		}
		checks = append(checks, keys)
	}
	_, err := fmt.Fprintln(w, r.Facts(facts, 0)+"\n"+r.Checks(checks, 0))
	return err
}
