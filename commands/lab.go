package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/ui"
)

func newLabCmd(g *globalOptions, in io.Reader) *cobra.Command {
	var opts lab.Options
	var secrets int
	var cl clusterLabFlags
	var list bool
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the wizard against a sandbox: a real etcd and a kubeadm-like tree",
		Long: `lab lays out a kubeadm-like control-plane tree in a temp folder (etcd.yaml and
kube-apiserver.yaml as kubeadm writes them, not yet hardened), starts a real etcd from
etcd.yaml's flags, seeds Secrets and ConfigMaps the way kube-apiserver stores them, and runs
the wizard with --root set to it. Like a kubelet, the lab restarts etcd when etcd.yaml
changes, and when etcd exits or fails to start (CrashLoopBackOff: 0.5 s, doubling to 10 s). On exit
it prints etcd's endpoint and ETCDCTL_* variables as the wizard left them, stops etcd and
removes the folder (unless --keep).

--scenario lays out a training situation instead of the plain sandbox, with a BRIEF.md
in the folder (--list shows them all): lab check grades it, lab reset starts it over.
Given the folder of a kept lab, lab goes on with it.`,
		Example: `  # try the whole wizard with no cluster
  etcd-harden lab

  # keep the tree afterwards, and point etcdctl at the lab from another shell
  etcd-harden lab --keep --dir ./lab-root
  eval "$(etcd-harden lab env)" && etcdctl member list

  # a training scenario, graded afterwards
  etcd-harden lab --scenario expiring-certs --dir ./lab-root --keep
  etcd-harden lab check --dir ./lab-root`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if list {
				return printScenarios(cmd.OutOrStdout())
			}
			if err := checkScenario(cmd, opts); err != nil {
				return err
			}
			if err := checkCount("--secrets", secrets, maxLabSecrets); err != nil {
				return err
			}
			opts.Secrets = secrets
			if secrets == 0 {
				opts.Secrets = -1 // lab.Options: 0 is the default, a negative count none
			}
			if cl.members != 1 {
				if cmd.Flags().Changed("scenario") {
					return &usageError{fmt.Errorf("--members %d with --scenario: the training scenarios are one-node labs; leave one of them out", cl.members)}
				}
				return runClusterLab(cmd.Context(), g, opts, cl, in, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runLab(cmd.Context(), g, opts, in, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", "", "Folder for the lab's root, empty or new (default a temp folder)")
	f.BoolVar(&opts.Keep, "keep", false, "Keep the lab's root when the lab ends")
	f.IntVar(&secrets, "secrets", lab.DefaultSecrets, fmt.Sprintf("How many Secrets to seed, 0 to %d", maxLabSecrets))
	cl.register(cmd)
	registerScenarioFlags(cmd, &opts, &list)
	g.registerAnswers(cmd)
	cmd.AddCommand(newLabEnvCmd(), newLabCheckCmd(g), newLabResetCmd(), newLabRewriteCmd())
	return cmd
}

// maxLabSecrets bounds --secrets: more would take minutes to seed and prove nothing more.
const maxLabSecrets = 10000

// checkCount refuses a count flag outside 0..max, as a usage error that names the flag
// and the range.
func checkCount(flag string, n, max int) error {
	if n < 0 || n > max {
		return &usageError{fmt.Errorf("%s %d: give a count from 0 to %d", flag, n, max)}
	}
	return nil
}

func runLab(ctx context.Context, g *globalOptions, opts lab.Options, in io.Reader, out, errOut io.Writer) (err error) {
	log := &labLog{w: errOut}
	opts.Log = log.line
	if err := g.checkAnswers(); err != nil {
		return err
	}
	l, err := startOrResume(ctx, opts)
	if err != nil {
		return fmt.Errorf("starting the lab: %w", err)
	}
	defer stopLab(errOut, log, l, opts.Keep, func() { printLabEnv(errOut, l, "at exit") }, &err)
	fmt.Fprintf(errOut, "lab: root %s\n", l.Root())
	if n := l.Seeded().Secrets; n > 0 { // a resumed lab seeds nothing
		fmt.Fprintf(errOut, "lab: %d Secrets seeded\n", n)
	}
	printLabEnv(errOut, l, "now")
	printScenarioStart(errOut, l)
	fmt.Fprintln(errOut, "lab: or from another shell: eval \"$(etcd-harden lab env --dir "+shellQuote(l.Root())+")\"")
	g.root = l.Root()
	if err := g.resolve(); err != nil {
		return err
	}
	o, err := g.uiOptions(in, out)
	if err != nil {
		return err
	}
	log.hold()
	o.Lab = l // the lab's own act, its rewrite of the Secrets, is offered in the summary
	return ui.Run(ctx, o)
}

// checkAnswers refuses a bad answers file before the lab lays out anything or starts etcd.
func (g *globalOptions) checkAnswers() error {
	if g.answers != "" {
		if _, err := ui.LoadAnswers(g.answers); err != nil {
			return &usageError{err}
		}
	}
	return nil
}

// stopLab ends a lab command: the held-back log, the lab's environment (read before
// Close: the wizard may have moved etcd to https), Close, and where a kept lab is. A
// failed Close becomes *err unless the command already failed.
func stopLab(errOut io.Writer, log *labLog, l interface {
	Close() error
	Root() string
}, keep bool, printEnv func(), err *error) {
	log.release()
	printEnv()
	if cerr := l.Close(); cerr != nil && *err == nil {
		*err = fmt.Errorf("stopping the lab: %w", cerr)
	}
	if keep {
		fmt.Fprintf(errOut, "lab: kept %s\n", l.Root())
	}
}

// printLabEnv prints where the lab's etcd answers and its etcdctl variables, read from
// the lab's manifests as they are when it is called (at start plain http; after the
// wizard's apply, https with the client pair).
func printLabEnv(w io.Writer, l *lab.Lab, when string) {
	env, err := l.Env()
	if err != nil {
		fmt.Fprintf(w, "lab: %s: %v\n", when, err)
		return
	}
	endpoint := strings.TrimPrefix(env[0], "ETCDCTL_ENDPOINTS=")
	if pid := l.PID(); pid != 0 {
		fmt.Fprintf(w, "lab: %s etcd answers on %s (pid %d); for etcdctl:\n", when, endpoint, pid)
	} else {
		why := ""
		if pod := l.Pod(); pod.Restarts > 0 || pod.CrashLooping() {
			why = fmt.Sprintf(" (CrashLoopBackOff, %d restarts: %s)", pod.Restarts, pod.LastError)
		}
		fmt.Fprintf(w, "lab: %s etcd is not running%s; it was configured for %s; for etcdctl:\n", when, why, endpoint)
	}
	for _, e := range env {
		name, value, _ := strings.Cut(e, "=")
		fmt.Fprintf(w, "  export %s=%s\n", name, shellQuote(value))
	}
}

func newLabEnvCmd() *cobra.Command {
	var dir, node string
	cmd := &cobra.Command{
		Use:   "env [--dir DIR] [--node NODE]",
		Short: "Print the ETCDCTL_* exports for a running lab",
		Long: `env prints the ETCDCTL_* variables for a running lab, as they are now (https and the
client pair once the lab is hardened): the lab started last, or the one in --dir.`,
		Example: `  eval "$(etcd-harden lab env)"
  eval "$(etcd-harden lab env --dir ./lab-root)"
  etcdctl get /registry/secrets --prefix --keys-only | head`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if dir != "" && dir != args[0] {
					return &usageError{fmt.Errorf("lab env: give the lab's folder once, as --dir %s or as an argument, not both", dir)}
				}
				dir = args[0]
			}
			env, err := lab.EnvForNode(dir, node)
			if errors.Is(err, lab.ErrNotLabFolder) {
				return &usageError{err} // the message names the folder
			}
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
	cmd.Flags().StringVar(&dir, "dir", "", "The lab's folder (the --dir of `etcd-harden lab --keep`); default the lab started last")
	cmd.Flags().StringVar(&node, "node", "", "In a cluster lab (--members 3), one node's variables (node-2); default every member's endpoint")
	return cmd
}

// newLabEtcdCmd is the hidden command the lab runs etcd with: this binary carries etcd.
func newLabEtcdCmd() *cobra.Command {
	return &cobra.Command{
		Use:                lab.EtcdSubcommand,
		Hidden:             true,
		DisableFlagParsing: true,
		// etcd's own Main returns only when etcd stopped: exit 0, which main decides.
		RunE: func(_ *cobra.Command, args []string) error {
			lab.RunEtcdMain(args)
			return nil
		},
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
