package commands

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
)

// registerScenarioFlags adds the training flags to `lab`.
func registerScenarioFlags(cmd *cobra.Command, opts *lab.Options, list *bool) {
	f := cmd.Flags()
	f.StringVar(&opts.Scenario, "scenario", lab.DefaultScenario, "Training scenario to lay out (see --list); BRIEF.md in the lab's folder says what to do")
	f.BoolVar(list, "list", false, "List the training scenarios, one line each, and exit")
	f.BoolVar(&opts.NoHints, "no-hints", false, "Leave the hints out of BRIEF.md (a trainer's choice)")
}

// checkScenario refuses an unknown scenario, and a scenario for a folder that holds a
// lab already, before anything is laid out.
func checkScenario(cmd *cobra.Command, opts lab.Options) error {
	if _, err := lab.FindScenario(opts.Scenario); err != nil {
		return &usageError{fmt.Errorf("--scenario: %w", err)}
	}
	if opts.Dir != "" && lab.Kept(opts.Dir) && cmd.Flags().Changed("scenario") {
		dir := shellQuote(opts.Dir)
		return &usageError{fmt.Errorf("--dir %s holds a lab already: go on with it with `etcd-harden lab --dir %s`, start its scenario over with `etcd-harden lab reset --dir %s`, or choose an empty folder for --scenario %s", opts.Dir, dir, dir, opts.Scenario)}
	}
	return nil
}

// printScenarios is `lab --list`.
func printScenarios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range lab.Scenarios() {
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.Short)
	}
	return tw.Flush()
}

// startOrResume starts a new lab, or goes on with the one kept in opts.Dir.
func startOrResume(ctx context.Context, opts lab.Options) (*lab.Lab, error) {
	if opts.Dir != "" && lab.Kept(opts.Dir) {
		opts.Keep = true // a lab that was kept stays kept
		return lab.Resume(ctx, opts)
	}
	return lab.Start(ctx, opts)
}

// printScenarioStart says which scenario the lab is in and where its brief is.
func printScenarioStart(w io.Writer, l *lab.Lab) {
	if l.Scenario() == "" {
		return
	}
	fmt.Fprintf(w, "lab: scenario %s: read %s (in the wizard: press ?); grade it with: etcd-harden lab check --dir %s\n",
		l.Scenario(), filepath.Join(l.Root(), lab.BriefFile), shellQuote(l.Root()))
}
