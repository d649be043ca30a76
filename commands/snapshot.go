package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

func newSnapshotCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "snapshot",
		Short: "Take a snapshot of etcd and prove it restores",
		Args:  usageArgs(cobra.NoArgs),
	}
	cmd.AddCommand(newSnapshotTestCmd(g), newSnapshotVerifyCmd(g), newSnapshotSaveCmd(g), newSnapshotFetchCmd(g))
	return cmd
}

// snapshotTestOptions are the flags of `snapshot test`.
type snapshotTestOptions struct {
	dest, output, name, schedule, rehearse string
	timeout                                time.Duration
	keep                                   int
	write                                  bool
	off                                    offsiteFlags // an s3:// --dest and sealing (snapshot_offsite.go)
}

func newSnapshotTestCmd(g *globalOptions) *cobra.Command {
	o := &snapshotTestOptions{}
	cmd := &cobra.Command{
		Use:   "test --dest FOLDER",
		Short: "Check a backup folder, take a snapshot into it and verify that it restores",
		Long: `snapshot test checks the destination (made with mode 0700 when missing, private, writable,
outside etcd's data dir, room for two snapshots), takes a snapshot of one etcd endpoint,
then verifies it: the sha256 trailer etcd appends (checked while it streams), a bbolt
consistency check and its status (revision, key count, storage version) in one read, and
its KV hash compared with the member's at the same revision: "identical" proves the
snapshot holds the member's data. The restore rehearsal (etcdutl restores it into a
temporary folder) runs when that comparison cannot be made, or always with
--rehearse always.

The endpoint and TLS files come from --endpoints --cacert --cert --key (or ETCDCTL_*),
else from the manifests under --root: a loopback --listen-client-urls of etcd.yaml and
kube-apiserver.yaml's --etcd-cafile, --etcd-certfile and --etcd-keyfile.

With --schedule it also prints a CronJob or systemd units that take a snapshot on a
schedule with etcdctl and keep the --keep newest; with --encrypt-to they run
"etcd-harden snapshot save --encrypt-to …" instead (and the test snapshot is sealed too),
since etcdctl would leave the snapshots in the clear. --write writes them into --dest (for
s3://, into /etc/etcd-harden under --root, beside a template of the credentials file).
It exits 1 when any check fails.`,
		Example: `  sudo etcd-harden snapshot test --dest /var/backups/etcd
  etcd-harden snapshot test --dest /var/backups/etcd --schedule systemd --keep 14
  etcd-harden snapshot test --dest /var/backups/etcd --encrypt-to age1… --schedule both --write
  etcd-harden snapshot test --dest /tmp/snap -o json | jq .verification.totalKeys`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if offsite.IsURL(o.dest) {
				return runSnapshotTestOffsite(cmd, g, o)
			}
			if err := o.validate(); err != nil {
				return err
			}
			if err := g.resolve(); err != nil {
				return err
			}
			scheduledMemory()
			return runSnapshotTest(cmd.Context(), g, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dest, "dest", "", "Folder to keep snapshots in (required; made with mode 0700 when missing)")
	f.StringVarP(&o.output, "output", "o", "", "Output format: json or text")
	f.StringVar(&o.name, "name", "", "Name of the snapshot file, without .db (default etcd-snapshot-<UTC time>)")
	f.DurationVar(&o.timeout, "timeout", snapshot.DefaultTimeout, "Give up when the save and verification take longer")
	f.StringVar(&o.schedule, "schedule", "none", "Also print a schedule: none, cronjob, systemd or both")
	f.IntVar(&o.keep, "keep", snapshot.DefaultKeep, "How many snapshots the schedule keeps")
	f.BoolVar(&o.write, "write", false, "Write the schedule files (into --dest; for s3://, into <root>/etc/etcd-harden with the credentials file's template)")
	f.StringVar(&o.rehearse, "rehearse", string(snapshot.RehearseAuto), "Restore rehearsal: auto (when the KV hash cannot prove the content), always or never")
	o.off.register(f, true)
	return cmd
}

func (o *snapshotTestOptions) validate() error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	schedErr := snapshot.CheckSchedule(o.schedule)
	switch {
	case o.dest == "":
		return &usageError{errors.New("--dest is required: the folder to keep snapshots in")}
	case schedErr != nil:
		return &usageError{fmt.Errorf("--schedule %q: %w", o.schedule, schedErr)}
	case snapshot.CheckRehearsal(o.rehearse) != nil:
		return &usageError{fmt.Errorf("--rehearse %q: %w", o.rehearse, snapshot.CheckRehearsal(o.rehearse))}
	case o.keep < 1:
		return &usageError{fmt.Errorf("--keep %d: keep at least 1 snapshot", o.keep)}
	case o.write && o.schedule == "none":
		return &usageError{errors.New("--write writes the schedule files: pass --schedule cronjob, systemd or both")}
	case o.timeout <= 0:
		return &usageError{fmt.Errorf("--timeout %s: give a positive duration such as 5m", o.timeout)}
	case strings.ContainsRune(o.name, filepath.Separator):
		return &usageError{fmt.Errorf("--name %q: give a file name, not a path (the folder is --dest)", o.name)}
	}
	dest, err := filepath.Abs(o.dest)
	if err != nil {
		return &usageError{fmt.Errorf("--dest %s: %w", o.dest, err)}
	}
	o.dest = dest
	return nil
}

func runSnapshotTest(ctx context.Context, g *globalOptions, o *snapshotTestOptions, out, errOut io.Writer) error {
	rs, _, err := o.off.sealing()
	if err != nil {
		return err
	}
	conn, st, err := g.etcdConn()
	if err != nil {
		return err
	}
	if rs.Len() > 0 {
		return runSealedFolderTest(ctx, g, o, conn, st, rs, out)
	}
	test, err := snapshot.NewJob(conn, st, snapshot.Request{Dest: o.dest, Name: o.name, Timeout: o.timeout, Schedule: o.schedule, Keep: o.keep, Write: o.write, Rehearse: snapshot.Rehearsal(o.rehearse)})
	if err != nil {
		return err
	}
	if o.name != "" {
		if final := snapshot.FinalPath(o.dest, o.name); fileExists(final) {
			return fmt.Errorf("--name %s: %s already exists; choose another name (nothing was written)", o.name, final)
		}
	}
	var progress func(snapshot.Progress) // none in a log: the report says it all
	line := g.progress(errOut)
	if line.Live() {
		progress = view.SnapshotProgress(line)
	}
	rep, err := test.Run(ctx, progress)
	line.Stop()
	if o.output == "json" {
		if perr := printJSON(out, rep); perr != nil {
			return perr
		}
		return err
	}
	if perr := printSnapshotReport(g, out, rep, conn.Endpoint(), o, err); perr != nil {
		return perr
	}
	switch {
	case err != nil && ctx.Err() != nil:
		return err // interrupted: exit 130
	case err != nil, snapshot.Failed(rep.Checks):
		return errChecksFailed
	}
	return nil
}

// printSnapshotReport writes the facts, the checks, the error that stopped the test and
// the schedule, each a block of the renderer.
func printSnapshotReport(g *globalOptions, out io.Writer, rep *snapshot.Report, endpoint string, o *snapshotTestOptions, testErr error) error {
	r := g.renderer(out)
	blocks := []string{r.Facts(view.SnapshotFacts(rep, endpoint, o.dest), 0)}
	if cs := view.SnapshotChecks(rep); len(cs) > 0 {
		blocks = append(blocks, r.Checks(cs, 0))
	}
	if testErr != nil {
		e := snapshotErrorView(testErr, rep, endpoint, o.dest)
		blocks = append(blocks, r.Error(e, 0))
	} else {
		blocks = append(blocks, view.ScheduleBlocks(r, 0, rep, o.schedule)...)
	}
	_, err := fmt.Fprintln(out, strings.Join(blocks, "\n\n"))
	return err
}

func snapshotErrorView(err error, rep *snapshot.Report, endpoint, dest string) render.Error {
	e := render.Error{What: err.Error(), Fix: "fix what the error names, then run the test again"}
	var conn *etcdconn.Error
	switch {
	case errors.As(err, &conn):
		// The error names the setting and the file; the fix says where settings come from.
		e.Path, e.Fix = conn.Endpoint, "change the setting the error names (--endpoints, --cacert, --cert, --key, or the manifests under --root), then run the test again"
	case endpoint != "" && strings.Contains(err.Error(), endpoint):
		e.Path = endpoint
		e.Fix = "check that etcd runs there and that --endpoints, --cacert, --cert and --key (or the manifests under --root) are right"
	case errors.Is(err, snapshot.ErrDestination):
		e.Path, e.Fix = dest, "fix the folder or pass another --dest"
	case errors.Is(err, snapshot.ErrCorrupt):
		e.Fix = "do not restore from it; check the disk and etcd's health, then test again"
		if rep != nil && rep.Verification != nil {
			e.Path = rep.Verification.CorruptPath
		}
	case errors.Is(err, snapshot.ErrTimedOut):
		e.Fix = "etcd answered too slowly: try again when it is less busy, or raise --timeout"
	}
	return e
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// newVerifyChildCmd is the hidden command that snapshot.Verify runs in a child process
// for its bbolt checks (a damaged file can fault bbolt in a way no recover() catches).
func newVerifyChildCmd() *cobra.Command {
	return &cobra.Command{
		Use:                snapshot.VerifySubcommand,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			scheduledMemory()
			if code := snapshot.RunVerifyChild(args, cmd.OutOrStdout()); code != 0 {
				return &usageError{fmt.Errorf("%s: bad arguments %q", snapshot.VerifySubcommand, args)}
			}
			return nil
		},
	}
}
