package commands

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/steps/plan"
)

func newRollbackCmd(g *globalOptions) *cobra.Command {
	var list bool
	cmd := &cobra.Command{
		Use:   "rollback [BACKUP]",
		Short: "Put the files an apply replaced back from its backup",
		Long: `rollback puts back the files of one backup that 'etcd-harden apply' made: every replaced
file byte for byte with its mode and owner, and every file the apply created removed (unless
it changed since). BACKUP is a backup folder, or its name under
<root>/var/lib/etcd-harden/backups; without it the latest backup is used. Running it again
is safe. --list shows the backups, newest first.`,
		Example: `  etcd-harden rollback --list
  etcd-harden rollback                      # the latest backup
  etcd-harden rollback 20250101-120000.000`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.resolve(); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if list {
				if len(args) > 0 {
					return &usageError{errors.New("--list takes no BACKUP")}
				}
				return listBackups(out, g.root)
			}
			var dir string
			if len(args) > 0 {
				dir = args[0]
			}
			return runRollback(out, g.root, dir)
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "List the backups, newest first, with their time and files")
	return cmd
}

func listBackups(w io.Writer, root string) error {
	backupRoot := plan.DefaultBackupRoot(root)
	list, err := plan.ListBackups(backupRoot)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		_, err := fmt.Fprintf(w, "No backups under %s.\n", backupRoot)
		return err
	}
	for i, b := range list {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s  %s  %d files\n", b.Dir, b.Created.Local().Format("2006-01-02 15:04:05 MST"), len(b.Files))
		for _, f := range b.Files {
			fmt.Fprintf(w, "  %s %s\n", backupAction(f), f.Path)
		}
	}
	return nil
}

// backupAction says what a rollback does with f.
func backupAction(f plan.BackupFile) string {
	if f.Dir {
		return "mode    "
	}
	if f.Existed {
		return "put back"
	}
	return "remove  "
}

// runRollback restores the backup dir (a path or a name under the backup root), or the
// latest one when dir is empty.
func runRollback(w io.Writer, root, dir string) error {
	backupRoot := plan.DefaultBackupRoot(root)
	switch {
	case dir == "":
		latest, err := plan.LatestBackup(backupRoot)
		if errors.Is(err, plan.ErrNoBackup) {
			return fmt.Errorf("no backups found under %s: nothing to roll back ('etcd-harden apply' makes one before it writes)", backupRoot)
		}
		if err != nil {
			return err
		}
		dir = latest
	case !filepath.IsAbs(dir) && !exists(dir) && exists(filepath.Join(backupRoot, dir)):
		dir = filepath.Join(backupRoot, dir)
	}
	if !exists(dir) {
		return &usageError{fmt.Errorf("backup %s: no such folder; 'etcd-harden rollback --list' shows the backups", dir)}
	}
	b, err := plan.ReadBackup(dir)
	if err != nil {
		return fmt.Errorf("%s is not a complete backup: %w; 'etcd-harden rollback --list' shows the backups", dir, err)
	}
	if abs, _ := filepath.Abs(b.Root); abs != root {
		return &usageError{fmt.Errorf("backup %s was made for files under %s, not %s; pass --root %s", dir, b.Root, root, b.Root)}
	}
	if b.Restored(root) {
		fmt.Fprintf(w, "Nothing to roll back: the files under %s are already as backup %s (made %s) found them; it was rolled back already. Nothing was written.\n",
			root, b.Dir, b.Created.Local().Format("2006-01-02 15:04:05 MST"))
		if older := olderBackup(backupRoot, b); older != nil {
			fmt.Fprintf(w, "To go back further, to before the apply of %s: %s\n", older.Created.Local().Format("2006-01-02 15:04:05 MST"), rollbackCommand(root, older.Dir))
		}
		return nil
	}
	if err := plan.Restore(root, b.Dir); errors.Is(err, plan.ErrDamagedBackup) {
		return fmt.Errorf("%w\n'etcd-harden rollback --list' shows the other backups; '%s' rolls back one of them", err, rollbackCommand(root, "BACKUP"))
	} else if err != nil {
		return fmt.Errorf("%w\nThe copies are still in %s; fix the cause and run '%s' again", err, b.Dir, rollbackCommand(root, b.Dir))
	}
	fmt.Fprintf(w, "Restored from %s (made %s):\n", b.Dir, b.Created.Local().Format("2006-01-02 15:04:05 MST"))
	for _, f := range b.Files {
		if f.Dir {
			fmt.Fprintf(w, "  mode %04o back on %s\n", uint32(f.Mode), f.Path)
		} else if f.Existed {
			fmt.Fprintf(w, "  put back %s\n", f.Path)
		} else {
			fmt.Fprintf(w, "  removed  %s (the apply created it)\n", f.Path)
		}
	}
	_, err = fmt.Fprintln(w, "The kubelet restarts etcd and kube-apiserver from the restored manifests.")
	return err
}

// olderBackup returns the newest backup under backupRoot made before b, or nil.
func olderBackup(backupRoot string, b *plan.Backup) *plan.Backup {
	list, err := plan.ListBackups(backupRoot)
	if err != nil {
		return nil
	}
	for _, o := range list {
		if o.Dir != b.Dir && o.Created.Before(b.Created) {
			return o
		}
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
