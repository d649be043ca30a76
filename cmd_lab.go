package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/ui"
)

func newLabCmd(g *globalOptions, in io.Reader) *cobra.Command {
	var opts lab.Options
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the wizard against a sandbox: a real etcd and a kubeadm-like tree",
		Long: `lab lays out a kubeadm-like control-plane tree in a temp folder (etcd.yaml and
kube-apiserver.yaml as kubeadm writes them, not yet hardened), starts a real etcd from
etcd.yaml's flags, seeds Secrets and ConfigMaps the way kube-apiserver stores them, and runs
the wizard with --root set to it. Like a kubelet, the lab restarts etcd when etcd.yaml
changes. On exit etcd is stopped and the folder removed (unless --keep).`,
		Example: `  # try the whole wizard with no cluster
  etcd-harden lab

  # keep the tree afterwards, and point etcdctl at the lab from another shell
  etcd-harden lab --keep --dir ./lab-root
  eval "$(etcd-harden lab env)" && etcdctl member list`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLab(cmd.Context(), g, opts, in, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", "", "Folder for the lab's root, empty or new (default a temp folder)")
	f.BoolVar(&opts.Keep, "keep", false, "Keep the lab's root when the lab ends")
	f.IntVar(&opts.Secrets, "secrets", lab.DefaultSecrets, "How many Secrets to seed")
	g.registerAnswers(cmd)
	cmd.AddCommand(newLabEnvCmd())
	return cmd
}

func runLab(ctx context.Context, g *globalOptions, opts lab.Options, in io.Reader, out, errOut io.Writer) (err error) {
	// The lab's own messages go to stderr until the wizard takes the screen.
	var quiet atomic.Bool
	opts.Log = func(line string) {
		if !quiet.Load() {
			fmt.Fprintln(errOut, "lab: "+line)
		}
	}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return fmt.Errorf("starting the lab: %w", err)
	}
	defer func() {
		if cerr := l.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stopping the lab: %w", cerr)
		}
		if opts.Keep {
			fmt.Fprintf(errOut, "lab: kept %s\n", l.Root())
		}
	}()
	env, _ := l.Env()
	fmt.Fprintf(errOut, "lab: root %s\nlab: etcd %s (pid %d), %d Secrets seeded\nlab: point etcdctl at it from another shell: eval \"$(etcd-harden lab env)\"\n",
		l.Root(), l.Endpoint(), l.PID(), l.Seeded().Secrets)
	for _, e := range env {
		fmt.Fprintln(errOut, "  export "+e)
	}
	g.root = l.Root()
	if err := g.resolve(); err != nil {
		return err
	}
	o, err := g.uiOptions(in, out)
	if err != nil {
		return err
	}
	quiet.Store(true)
	o.Lab = l
	return ui.Run(ctx, o)
}

func newLabEnvCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "env [ROOT]",
		Short: "Print the ETCDCTL_* exports for a running lab",
		Example: `  eval "$(etcd-harden lab env)"
  etcdctl get /registry/secrets --prefix --keys-only | head`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			env, err := lab.EnvFor(dir)
			if err != nil {
				return err
			}
			for _, e := range env {
				name, value, _ := strings.Cut(e, "=")
				fmt.Fprintf(cmd.OutOrStdout(), "export %s=%s\n", name, shellQuote(value))
			}
			return nil
		},
	}
}

// newLabEtcdCmd is the hidden command the lab runs etcd with: this binary carries etcd.
func newLabEtcdCmd() *cobra.Command {
	return &cobra.Command{
		Use:                lab.EtcdSubcommand,
		Hidden:             true,
		DisableFlagParsing: true,
		Run: func(_ *cobra.Command, args []string) {
			lab.RunEtcdMain(args)
			os.Exit(0)
		},
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
