// Package commands is etcd-harden's command line: one file per subcommand, the root
// command that runs the wizard, and the flags they share. It returns errors and never
// exits: main turns them into exit codes, with IsUsage telling a mistake on the command
// line (exit 2) from a failure.
package commands

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/ui"
)

// Quiet reports whether err was already shown to the user, or only carries an exit code:
// main prints nothing for it.
func Quiet(err error) bool {
	var shown *ui.ShownError
	return errors.As(err, &shown) || errors.Is(err, errChecksFailed) || errors.Is(err, ui.ErrAborted)
}

// errChecksFailed makes a command exit 1 after it printed failing checks.
var errChecksFailed = errors.New("some checks failed")

// IsUsage reports whether err is a mistake on the command line: exit code 2.
func IsUsage(err error) bool {
	var usage *usageError
	return errors.As(err, &usage)
}

// usageError is a mistake on the command line: exit code 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageArgs marks an argument validator's errors as usage errors.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := v(cmd, args); err != nil {
			return &usageError{err}
		}
		return nil
	}
}

// NewRoot builds the etcd-harden command with every subcommand; in is what the wizard
// and apply's question read.
func NewRoot(in io.Reader) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "etcd-harden",
		Short: "Harden the etcd behind a Kubernetes control plane, step by step",
		Long: `etcd-harden walks you through hardening the etcd of a Kubernetes control-plane node:
encryption at rest for Secrets, TLS certificates for etcd's clients and peers, a reviewed
patch of the static pod manifests, and a backup that is proven to restore.

Nothing is written before you have seen the diff. Try it without a cluster: etcd-harden lab.`,
		Example: `  # run the wizard on a control-plane node
  sudo etcd-harden

  # audit a node without changing anything
  etcd-harden audit -o json`,
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWizard(cmd.Context(), g, in, cmd.OutOrStdout())
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	g.register(root)
	g.registerAnswers(root)
	root.AddCommand(newAuditCmd(g), newCertsCmd(g), newEncryptionCmd(g), newLabCmd(g, in), newLabEtcdCmd())
	root.AddCommand(newPlanCmd(g))
	root.AddCommand(newApplyCmd(g))
	root.AddCommand(newRollbackCmd(g))
	root.AddCommand(newSnapshotCmd(g), newVerifyChildCmd())
	return root
}

func runWizard(ctx context.Context, g *globalOptions, in io.Reader, out io.Writer) error {
	if err := g.resolve(); err != nil {
		return err
	}
	o, err := g.uiOptions(in, out)
	if err != nil {
		return err
	}
	return ui.Run(ctx, o)
}
