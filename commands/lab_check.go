package commands

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/render"
)

func newLabCheckCmd(g *globalOptions) *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "check [--dir DIR] [-o json]",
		Short: "Grade a lab: each goal of its scenario, pass or fail with what was observed",
		Long: `check grades the lab started last, or the one in --dir, against the goals of its
scenario: from its files and from its etcd (is mutual TLS enforced, how are the Secrets
stored and under which key, is there a verified snapshot). A lab that was kept and no
longer runs has its etcd started for the check and stopped again. It exits 0 when every
goal passes, 1 otherwise; -o json is what a trainer collects from each student.`,
		Example: `  etcd-harden lab check
  etcd-harden lab check --dir ./lab-root -o json > alice.json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			rep, err := gradeLab(cmd, dir)
			if err != nil {
				return err
			}
			return checked{json: rep, failed: !rep.Done(), text: func(w io.Writer) error {
				return printGrade(w, g.renderer(w), rep)
			}}.print(cmd.OutOrStdout(), output)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "The lab's folder (default the lab started last)")
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: json or text")
	return cmd
}

// gradeLab grades the lab in dir, starting its etcd for the check when the lab no
// longer runs.
func gradeLab(cmd *cobra.Command, dir string) (*lab.Report, error) {
	root, err := lab.Root(dir)
	if err != nil {
		return nil, labFolderError(err)
	}
	if _, err := lab.ReadRecord(root); err != nil {
		return nil, labFolderError(err)
	}
	_, envErr := lab.EnvFor(root)
	switch {
	case envErr == nil: // it runs: ask its etcd
	case errors.Is(envErr, lab.ErrNoLab):
		// Its own registry: the pointer to a lab the user runs meanwhile stays as it is.
		registry, err := os.MkdirTemp("", "etcd-harden-lab-check-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(registry)
		l, err := lab.Resume(cmd.Context(), lab.Options{Dir: root, Keep: true, RegistryDir: registry})
		if err != nil {
			return nil, fmt.Errorf("start the lab's etcd for the check: %w", err)
		}
		defer l.Close()
	default:
		return nil, labFolderError(envErr)
	}
	return lab.Grade(cmd.Context(), root, lab.GradeOptions{})
}

// labFolderError marks a folder that holds no lab as a usage error: the message names it.
func labFolderError(err error) error {
	if errors.Is(err, lab.ErrNotLabFolder) || errors.Is(err, lab.ErrNotScenarioLab) {
		return &usageError{err}
	}
	return err
}

// printGrade shows the scenario and the score as facts and each goal as a check.
func printGrade(w io.Writer, r render.Renderer, rep *lab.Report) error {
	facts := []render.Fact{
		{Key: "scenario", Value: rep.Scenario},
		{Key: "lab", Value: rep.Root},
		{Key: "score", Value: fmt.Sprintf("%d of %d goals (%d%%)", rep.Passed, rep.Total, rep.Score)},
	}
	var checks []render.Check
	for _, g := range rep.Goals {
		status := render.Pass
		if g.Status != lab.GoalPass {
			status = render.Fail
		}
		checks = append(checks, render.Check{ID: g.ID, Title: g.Title, Status: status, Detail: g.Observed})
	}
	_, err := fmt.Fprintln(w, r.Facts(facts, 0)+"\n"+r.Checks(checks, 0))
	return err
}
