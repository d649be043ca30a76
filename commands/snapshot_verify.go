package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

// snapshotVerifyOptions are the flags of `snapshot verify`.
type snapshotVerifyOptions struct {
	output, rehearse string
}

func newSnapshotVerifyCmd(g *globalOptions) *cobra.Command {
	o := &snapshotVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify FILE",
		Short: "Verify a snapshot file taken by anyone, and compare it with a member's data",
		Long: `snapshot verify runs the verification of snapshot test on a snapshot file taken by
anyone (etcdctl snapshot save in an existing cron job, say): the sha256 trailer etcd
appends, a bbolt consistency check and the status (revision, key count, storage version)
in one read.

With --endpoints (or ETCDCTL_ENDPOINTS, with --cacert --cert --key for https) it also asks
that member for its KV hash at the snapshot's revision: "identical" proves the file holds
the member's data; "not comparable" (compacted since, say) is a warning, never a pass.
The restore rehearsal runs when the content is not proven, or as --rehearse says.

A file that fails is left where it is. Exit status: 0 verified, 1 failed, 2 usage.`,
		Example: `  etcd-harden snapshot verify /var/backups/etcd/etcd-snapshot-20261201T020000Z.db
  etcd-harden snapshot verify snap.db --endpoints https://127.0.0.1:2379 \
    --cacert ca.crt --cert client.crt --key client.key -o json | jq .content.status`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if err := snapshot.CheckRehearsal(o.rehearse); err != nil {
				return &usageError{fmt.Errorf("--rehearse %q: %w", o.rehearse, err)}
			}
			if err := g.resolve(); err != nil {
				return err
			}
			scheduledMemory()
			return runSnapshotVerify(cmd.Context(), g, o, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "", "Output format: json or text")
	f.StringVar(&o.rehearse, "rehearse", string(snapshot.RehearseAuto), "Restore rehearsal: auto (when the KV hash cannot prove the content), always or never")
	return cmd
}

func runSnapshotVerify(ctx context.Context, g *globalOptions, o *snapshotVerifyOptions, file string, out io.Writer) error {
	path, err := filepath.Abs(file)
	if err != nil {
		return &usageError{fmt.Errorf("%s: %w", file, err)}
	}
	fo := snapshot.FileOptions{Rehearse: snapshot.Rehearsal(o.rehearse)}
	endpoint := ""
	if len(g.etcd.Endpoints) > 0 { // compare only with a member the operator named
		conn, err := etcdconn.Resolve(g.etcd, nil)
		if err != nil {
			return err
		}
		cfg, err := conn.ClientConfig()
		if err != nil {
			return err
		}
		// The member was asked for by name: a wrong endpoint or TLS file is said in
		// seconds, before the file is read (the comparison would wait for the dial).
		if err := conn.Check(ctx); err != nil {
			return err
		}
		fo.Client, endpoint = &cfg, conn.Endpoint()
	}
	rep, err := snapshot.VerifyFile(ctx, path, fo)
	if o.output == "json" {
		if perr := printJSON(out, rep); perr != nil {
			return perr
		}
		return verifyExit(ctx, err)
	}
	r := g.renderer(out)
	blocks := []string{r.Facts(view.SnapshotFacts(rep, endpoint, ""), 0)}
	if cs := view.SnapshotChecks(rep); len(cs) > 0 {
		blocks = append(blocks, r.Checks(cs, 0))
	}
	if err != nil {
		e := render.Error{What: err.Error(), Path: path, Fix: "do not restore from it; take a new snapshot and verify that one"}
		if !errors.Is(err, snapshot.ErrCorrupt) {
			e.Fix = "pass the path of a snapshot file (etcdctl snapshot save or etcd-harden snapshot test writes one)"
		}
		blocks = append(blocks, r.Error(e, 0))
	}
	if _, perr := fmt.Fprintln(out, strings.Join(blocks, "\n\n")); perr != nil {
		return perr
	}
	return verifyExit(ctx, err)
}

// verifyExit is the command's error for the verification's: interrupted stays as it is
// (exit 130), a missing or failing file is exit 1 with the report already printed.
func verifyExit(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	return errChecksFailed
}
