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

	"github.com/etcd-harden/etcd-harden/commands"
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
	root := commands.NewRoot(in)
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
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, ui.ErrAborted), errors.Is(err, context.Canceled):
		return exitAborted
	case commands.IsUsage(err):
		return exitUsage
	default:
		return exitFailed
	}
}

// printError prints err as it is: fang's default handler capitalises the first word,
// which mangles messages that start with a flag or a file name ("--Root", "Etcd.yaml").
func printError(w io.Writer, _ fang.Styles, err error) {
	if commands.Quiet(err) {
		return
	}
	fmt.Fprintf(w, "etcd-harden: %v\n", err)
	if commands.IsUsage(err) {
		fmt.Fprintln(w, "Run 'etcd-harden --help' for usage.")
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
