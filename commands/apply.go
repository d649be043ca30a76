package commands

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/steps/rollout"
	"github.com/etcd-harden/etcd-harden/ui"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

// applyOptions are apply's own flags.
type applyOptions struct {
	dir     string
	timeout time.Duration
	yes     bool
}

func newApplyCmd(g *globalOptions) *cobra.Command {
	var o applyOptions
	cmd := &cobra.Command{
		Use:   "apply --plan DIR",
		Short: "Apply a reviewed plan: backups, an etcd health check, rollback on failure",
		Long: `apply writes the plan that 'etcd-harden plan --out DIR' saved, exactly as it was reviewed.
It refuses a plan whose files changed on the node since it was made.

It backs up every file it replaces under <root>/var/lib/etcd-harden/backups, writes the new
files first, then etcd.yaml, and waits until etcd answers over its new TLS with the client
certificate kube-apiserver will use; only then does it write kube-apiserver.yaml. When etcd
does not answer within --timeout, every file is put back byte for byte and the old etcd is
waited for again. It exits 1 when the plan could not be applied. It takes no --endpoints,
--cacert, --cert or --key: it checks etcd where the plan's manifests say.

On a node of a cluster of several members (a plan with cluster.json), it does what the
cluster allows now, one member restart per phase (1: certificates and https beside http;
2: https peers; 3: mutual TLS only), each followed by a health gate over the whole cluster
that rolls the node back when it fails, and says on which node to run it next. Run it
again, on any node, in any order, until it says the cluster is done.`,
		Example: `  etcd-harden plan --out ./harden-plan
  etcd-harden apply --plan ./harden-plan
  etcd-harden apply --plan ./harden-plan --yes --timeout 5m   # no prompt, e.g. from Ansible`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := refuseConnFlags(cmd); err != nil {
				return err
			}
			return runApply(cmd.Context(), g, o, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "plan", "", "Plan folder written by 'etcd-harden plan --out DIR' (required)")
	f.DurationVar(&o.timeout, "timeout", rollout.DefaultTimeout, "How long etcd may take to answer after etcd.yaml changes")
	f.BoolVarP(&o.yes, "yes", "y", false, "Apply without asking (needed when stdin is not a terminal)")
	return cmd
}

func runApply(ctx context.Context, g *globalOptions, o applyOptions, in io.Reader, out, errOut io.Writer) error {
	if o.dir == "" {
		return &usageError{errors.New("--plan DIR is required: the folder that 'etcd-harden plan --out DIR' wrote")}
	}
	if o.timeout <= 0 {
		return &usageError{fmt.Errorf("--timeout %s: give a positive duration such as 2m", o.timeout)}
	}
	if err := g.resolve(); err != nil {
		return err
	}
	switch fi, err := os.Stat(o.dir); {
	case errors.Is(err, fs.ErrNotExist), err == nil && !fi.IsDir():
		return &usageError{fmt.Errorf("--plan %s: no such folder; write a plan first with 'etcd-harden plan --out %s'", o.dir, o.dir)}
	case err != nil:
		return fmt.Errorf("--plan %s: %w; run as root, or check the folder's permissions", o.dir, err)
	}
	if cp, err := harden.ReadCluster(o.dir); err != nil || cp != nil {
		if err != nil {
			return err
		}
		return runClusterApply(ctx, g, o, cp, in, out, errOut)
	}
	p, err := harden.ReadOut(o.dir, g.root)
	switch {
	case errors.Is(err, plan.ErrAlreadyApplied):
		_, err := fmt.Fprintf(out, "Already applied: every file the plan in %s changes under %s is as the plan leaves it. Nothing was written.\n", o.dir, g.root)
		return err
	case errors.Is(err, plan.ErrPartlyApplied):
		return partlyApplied(err, p, g.root)
	case errors.Is(err, harden.ErrOtherRoot):
		return &usageError{err}
	case errors.Is(err, plan.ErrStale):
		return fmt.Errorf("%w\nThe node changed since the plan was made, so it is not what you reviewed: plan again with 'etcd-harden plan --out DIR', review it, then apply the new one. Nothing was written", err)
	case err != nil:
		return err
	}
	if p.Empty() {
		_, err := fmt.Fprintf(out, "The plan in %s changes nothing under %s.\n", o.dir, g.root)
		return err
	}
	if err := refuseUnattended(o.yes, in); err != nil {
		return err
	}
	printPlanFiles(out, p, g.root)
	if err := consent(ctx, o.yes, in, out, "Apply these changes? [y/N] "); err != nil {
		return err
	}
	line := g.progress(errOut).Timed()
	rep, err := rollout.Apply(ctx, p, g.root, rollout.Options{Layout: g.layout(), Timeout: o.timeout}, func(e rollout.Event) {
		line.Say(view.RolloutEvent(e, view.Log))
	})
	line.Stop()
	if err != nil {
		return err
	}
	return printApplied(out, rep, g.root)
}

// partlyApplied names the apply of p that stopped part way and the backup that undoes it.
func partlyApplied(err error, p *plan.Plan, root string) error {
	backupRoot := plan.DefaultBackupRoot(root)
	b, berr := plan.BackupOf(backupRoot, p)
	switch {
	case berr != nil:
		return fmt.Errorf("%w\nThe backups in %s could not be read (%v); 'etcd-harden rollback --list' shows them", err, backupRoot, berr)
	case b == nil:
		return fmt.Errorf("%w\nNo backup of an apply of this plan is in %s, so the files were changed some other way: plan again", err, backupRoot)
	}
	return fmt.Errorf("%w\nThe apply of this plan that started %s was interrupted; its backup is %s.\nRoll it back with '%s', then apply the plan again",
		err, b.Created.Local().Format("2006-01-02 15:04:05 MST"), b.Dir, rollbackCommand(root, b.Dir))
}

// refuseConnFlags refuses etcdctl's connection flags on apply rather than ignoring them.
// apply checks etcd at the address and with the client pair the plan's etcd.yaml and
// kube-apiserver.yaml give, before and after the change: that check is what proves
// kube-apiserver will reach the hardened etcd. An endpoint or pair from the command line
// would prove something else, and one endpoint cannot be both the plain http etcd before
// and the https one after. ETCDCTL_* variables, often set in a node's shell, are ignored.
func refuseConnFlags(cmd *cobra.Command) error {
	var given []string
	for _, name := range []string{"endpoints", "cacert", "cert", "key"} {
		if cmd.Flags().Changed(name) {
			given = append(given, "--"+name)
		}
	}
	if len(given) == 0 {
		return nil
	}
	it := "it"
	if len(given) > 1 {
		it = "them"
	}
	return &usageError{fmt.Errorf("apply does not take %s: it checks etcd where the plan's etcd.yaml and kube-apiserver.yaml say, with the client pair kube-apiserver will use, before and after the change; run apply without %s (nothing was written)",
		strings.Join(given, ", "), it)}
}

// printPlanFiles lists what the plan writes.
func printPlanFiles(w io.Writer, p *plan.Plan, root string) {
	fmt.Fprintf(w, "The plan changes %d files under %s:\n", len(p.Changes), root)
	for _, d := range p.FileDiffs() {
		kind := "edit  "
		if d.New {
			kind = "create"
		}
		extra := fmt.Sprintf("+%d -%d", d.Added, d.Removed)
		switch {
		case d.ModeOnly:
			kind, extra = "chmod ", fmt.Sprintf("mode %04o -> %04o", d.OldMode, d.Mode)
		case d.Secret:
			extra = "secret, content not shown"
		}
		fmt.Fprintf(w, "  %s %04o %s (%s)\n", kind, d.Mode.Perm(), d.Path, extra)
	}
}

// refuseUnattended refuses to apply without --yes when nobody can be asked.
func refuseUnattended(yes bool, in io.Reader) error {
	if !yes && !isTerminal(in) {
		return &usageError{errors.New("apply changes files on the node and asks first; stdin is not a terminal, so pass --yes to apply without asking")}
	}
	return nil
}

// consent asks question unless yes; a "no" says nothing was written and is ui.ErrAborted.
func consent(ctx context.Context, yes bool, in io.Reader, out io.Writer, question string) error {
	if yes {
		return nil
	}
	ok, err := confirm(ctx, in, out, question)
	if err != nil {
		return err
	}
	if !ok {
		fmt.Fprintln(out, "Nothing was written.")
		return ui.ErrAborted
	}
	return nil
}

// confirm asks question on out and reads a yes or no from in. Ctrl-C stops the read at
// once (ui.ErrAborted); end of input is a no.
func confirm(ctx context.Context, in io.Reader, out io.Writer, question string) (bool, error) {
	fmt.Fprint(out, question)
	input := step.NewInput(ctx, in)
	answer, err := bufio.NewReader(input).ReadString('\n')
	if errors.Is(input.Err(), step.ErrInterrupted) {
		fmt.Fprintln(out, "\nInterrupted (Ctrl-C): nothing was written.")
		return false, ui.ErrAborted
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return true, nil
	}
	return false, nil
}

func printApplied(w io.Writer, rep *rollout.Report, root string) error {
	fmt.Fprintf(w, "Applied: %d files written in %s.\n", len(rep.Written), rep.Elapsed.Round(100*time.Millisecond))
	if rep.Etcd.Endpoint != "" {
		fmt.Fprintf(w, "etcd %s answers on %s with %s (after %s).\n", rep.Health.Version, rep.Etcd.Endpoint, rep.Etcd.CertFile, rep.Waited.Round(100*time.Millisecond))
	}
	if rep.Backup != nil {
		fmt.Fprintf(w, "Backup of the replaced files: %s\n", rep.Backup.Dir)
		fmt.Fprintf(w, "To undo:  %s\n", rollbackCommand(root, rep.Backup.Dir))
	}
	return nil
}

// rollbackCommand is the command that puts backup back.
func rollbackCommand(root, backup string) string {
	if root == "/" {
		return "etcd-harden rollback " + backup
	}
	return fmt.Sprintf("etcd-harden rollback --root %s %s", root, backup)
}
