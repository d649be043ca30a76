package commands

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/lab"
)

func newLabResetCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "reset --dir DIR",
		Short: "Put a kept lab back to the start of its scenario, in the same folder",
		Long: `reset removes everything in the lab's folder and lays its scenario out again, as
` + "`etcd-harden lab --scenario NAME --keep --dir DIR`" + ` did: new certificates and keys, the
same number of Secrets, a fresh BRIEF.md (with or without hints, as before). The lab must
not be running. Go on with it afterwards with ` + "`etcd-harden lab --dir DIR`" + `.`,
		Example: `  etcd-harden lab reset --dir ./lab-root && etcd-harden lab --dir ./lab-root`,
		Args:    usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				return &usageError{errors.New("lab reset: --dir is required: the folder of the lab to lay out again")}
			}
			root, err := lab.Root(dir)
			if err != nil {
				return labFolderError(err)
			}
			rec, err := lab.ReadRecord(root)
			if err != nil {
				return labFolderError(err)
			}
			if _, err := lab.EnvFor(root); err == nil {
				s, _ := lab.ReadState(root)
				return fmt.Errorf("the lab in %s is running (pid %d): quit it first, then reset", root, s.PID)
			}
			if err := emptyFolder(root); err != nil {
				return err
			}
			l, err := lab.Start(cmd.Context(), lab.Options{Dir: root, Keep: true, Scenario: rec.Scenario, NoHints: !rec.Hints,
				Secrets: seedCount(rec.Secrets), ConfigMaps: seedCount(rec.ConfigMaps)})
			if err != nil {
				return fmt.Errorf("lay out scenario %s again: %w", rec.Scenario, err)
			}
			if err := l.Close(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scenario %s laid out again in %s; go on with: etcd-harden lab --dir %s\n", rec.Scenario, root, shellQuote(root))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "The lab's folder (the --dir of `etcd-harden lab --keep`)")
	return cmd
}

// seedCount turns a recorded count into lab.Options' (0 there means the default).
func seedCount(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// emptyFolder removes what root holds, keeping root itself (a student's shell may be in it).
func emptyFolder(root string) error {
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return fmt.Errorf("empty the lab folder: %w", err)
		}
	}
	return nil
}
