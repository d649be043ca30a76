// Command etcd-harden walks an operator through hardening the etcd behind a Kubernetes
// control plane: encryption at rest, TLS certificates, a reviewed manifest patch and a
// tested backup. Nothing is written before the operator has seen the diff.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/charmbracelet/fang"
	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/ui"
)

// version is stamped by the release build (-ldflags "-X main.version=...").
var version = ""

// Exit codes, decided here only.
const (
	exitOK      = 0
	exitFailed  = 1
	exitUsage   = 2
	exitAborted = 130
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and turns its error into an exit code.
func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCmd(in)
	root.SetArgs(args)
	root.SetOut(out)
	root.SetErr(errOut)
	err := fang.Execute(ctx, root,
		fang.WithVersion(buildVersion()),
		fang.WithNotifySignal(os.Interrupt, syscall.SIGTERM, syscall.SIGHUP),
		fang.WithErrorHandler(printError),
	)
	return exitCode(err)
}

func exitCode(err error) int {
	var usage *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, ui.ErrAborted), errors.Is(err, context.Canceled):
		return exitAborted
	case errors.As(err, &usage):
		return exitUsage
	default:
		return exitFailed
	}
}

// printError prints err as it is: fang's default handler capitalises the first word,
// which mangles messages that start with a flag or a file name ("--Root", "Etcd.yaml").
func printError(w io.Writer, _ fang.Styles, err error) {
	if quiet(err) {
		return
	}
	fmt.Fprintf(w, "etcd-harden: %v\n", err)
	var usage *usageError
	if errors.As(err, &usage) {
		fmt.Fprintln(w, "Run 'etcd-harden --help' for usage.")
	}
}

// quiet errors were already shown to the user, or only carry an exit code.
func quiet(err error) bool {
	var shown *ui.ShownError
	return errors.As(err, &shown) || errors.Is(err, errChecksFailed) || errors.Is(err, ui.ErrAborted)
}

// errChecksFailed makes a command exit 1 after it printed failing checks.
var errChecksFailed = errors.New("some checks failed")

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

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

func newRootCmd(in io.Reader) *cobra.Command {
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
