package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/view"
)

// defaultStaging is where a snapshot bound for S3 is saved, verified and sealed first.
const defaultStaging = "/var/lib/etcd-harden/staging"

// offsiteFlags are the flags of an S3 destination and of sealing, shared by `snapshot
// test`, `snapshot save` and `snapshot fetch`.
type offsiteFlags struct {
	s3Endpoint, identity, staging string
	encryptTo, encryptToFiles     []string
	noEncrypt                     bool
}

func (o *offsiteFlags) register(f *pflag.FlagSet, sealing bool) {
	f.StringVar(&o.s3Endpoint, "s3-endpoint", "", "S3 endpoint URL for an s3:// destination (default $AWS_ENDPOINT_URL, else AWS S3)")
	f.StringVar(&o.identity, "identity", "", "age identity file (or unencrypted SSH private key) that opens sealed snapshots")
	if !sealing {
		return
	}
	f.StringArrayVar(&o.encryptTo, "encrypt-to", nil, "Seal the snapshot with age to this public key (age1…, ssh-ed25519 …, ssh-rsa …); repeatable")
	f.StringArrayVar(&o.encryptToFiles, "encrypt-to-file", nil, "Seal to every public key in this file, one a line; repeatable")
	f.BoolVar(&o.noEncrypt, "no-encrypt", false, "Upload to s3:// without sealing (the snapshot holds every Secret of the cluster)")
	f.StringVar(&o.staging, "staging", defaultStaging, "Local folder where a snapshot bound for s3:// is saved, verified and sealed before it leaves the node")
}

// sealing parses the recipients and the identity: a bad key is a usage error.
func (o *offsiteFlags) sealing() (*seal.Recipients, *seal.Identities, error) {
	rs, err := seal.ParseRecipients(o.encryptTo, o.encryptToFiles)
	if err != nil {
		return nil, nil, &usageError{err}
	}
	if rs.Len() > 0 && o.noEncrypt {
		return nil, nil, &usageError{errors.New("--no-encrypt with --encrypt-to: choose one")}
	}
	var ids *seal.Identities
	if o.identity != "" {
		if ids, err = seal.LoadIdentities(o.identity); err != nil {
			return nil, nil, &usageError{err}
		}
	}
	return rs, ids, nil
}

func (o *offsiteFlags) request(dest, name string, keep int, timeout time.Duration) (offsite.Request, error) {
	rs, ids, err := o.sealing()
	if err != nil {
		return offsite.Request{}, err
	}
	staging, err := filepath.Abs(o.staging)
	if err != nil {
		return offsite.Request{}, &usageError{fmt.Errorf("--staging %s: %w", o.staging, err)}
	}
	if _, err := offsite.ParseURL(dest); err != nil {
		return offsite.Request{}, &usageError{fmt.Errorf("--dest: %w", err)}
	}
	return offsite.Request{Dest: dest, Store: offsite.Config{Endpoint: o.s3Endpoint}, Staging: staging, Name: name,
		Recipients: rs, Plaintext: o.noEncrypt, Identity: ids, Keep: keep, Timeout: timeout}, nil
}

// runOffsite runs an offsite job and prints its report (text or JSON).
func runOffsite(ctx context.Context, g *globalOptions, req offsite.Request, output string, out, errOut io.Writer) error {
	conn, st, err := g.etcdConn()
	if err != nil {
		return err
	}
	job, err := offsite.NewJob(conn, st, req)
	if err != nil {
		if errors.Is(err, offsite.ErrNotSealed) || errors.Is(err, offsite.ErrBadURL) {
			return &usageError{err}
		}
		return err
	}
	line := g.progress(errOut)
	var obs offsite.Observer
	if line.Live() {
		obs.Save = view.SnapshotProgress(line)
	}
	obs.Upload = view.UploadProgress(line)
	rep, err := job.Run(ctx, obs)
	line.Stop()
	if output == "json" {
		if perr := printJSON(out, rep); perr != nil {
			return perr
		}
		return finish(ctx, err, rep)
	}
	r := g.renderer(out)
	blocks := []string{r.Facts(view.OffsiteFacts(rep, job.Store(), conn.Endpoint()), 0)}
	if cs := view.OffsiteChecks(rep); len(cs) > 0 {
		blocks = append(blocks, r.Checks(cs, 0))
	}
	if err != nil {
		blocks = append(blocks, r.Error(offsiteErrorView(err, rep, conn.Endpoint(), req.Dest), 0))
	} else {
		blocks = append(blocks, view.OffsiteScheduleBlocks(r, 0, rep, req.Schedule)...)
	}
	if _, perr := fmt.Fprintln(out, strings.Join(blocks, "\n\n")); perr != nil {
		return perr
	}
	return finish(ctx, err, rep)
}

func finish(ctx context.Context, err error, rep *offsite.Report) error {
	switch {
	case err != nil && ctx.Err() != nil:
		return err // interrupted: exit 130
	case err != nil, snapshot.Failed(rep.Checks):
		return errChecksFailed
	case rep.Local != nil && snapshot.Failed(rep.Local.Checks):
		return errChecksFailed
	}
	return nil
}

func offsiteErrorView(err error, rep *offsite.Report, endpoint, dest string) render.Error {
	switch {
	case errors.Is(err, offsite.ErrUnreachable), errors.Is(err, offsite.ErrBadCredentials), errors.Is(err, offsite.ErrDenied), errors.Is(err, offsite.ErrNoBucket):
		return render.Error{What: err.Error(), Path: dest, Fix: "fix the store, the credentials or --s3-endpoint as the message says, then run again"}
	case errors.Is(err, snapshot.ErrDestination):
		return render.Error{What: err.Error(), Path: dest, Fix: "do what the failed check's fix says, then run again"}
	case errors.Is(err, offsite.ErrNoCredentials):
		return render.Error{What: err.Error(), Path: dest, Fix: "export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), then run again"}
	}
	var local *snapshot.Report
	if rep != nil {
		local = rep.Local
	}
	return snapshotErrorView(err, local, endpoint, dest)
}

// snapshotSaveOptions are the flags of `snapshot save`.
type snapshotSaveOptions struct {
	dest, output, name string
	timeout            time.Duration
	keep               int
	off                offsiteFlags
}

func newSnapshotSaveCmd(g *globalOptions) *cobra.Command {
	o := &snapshotSaveOptions{}
	cmd := &cobra.Command{
		Use:   "save --dest FOLDER|s3://BUCKET/PREFIX",
		Short: "Take a verified snapshot, seal it, ship it and keep the newest (what a schedule runs)",
		Long: `snapshot save is what a schedule runs: it takes a snapshot of one etcd endpoint, verifies
it (sha256 trailer, bbolt check, status, the member's KV hash), seals it with age to
--encrypt-to public keys when given, and keeps the --keep newest snapshots of this cluster.

With --dest s3://BUCKET/PREFIX the snapshot is saved and verified in --staging first, then
sealed (required: --encrypt-to, --encrypt-to-file, or --no-encrypt to refuse), uploaded in
parts of 16 MiB with its sha256 and etcd revision as metadata, read back and compared, and
the staging files are removed. Credentials come from AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), AWS_PROFILE with ~/.aws/credentials, or the
instance's IAM role; the endpoint from --s3-endpoint or AWS_ENDPOINT_URL; the region from
AWS_REGION. Secret keys are never printed. --keep only removes objects this tool wrote
(etcd-snapshot-<time>.db[.age] with its metadata, of this cluster).`,
		Example: `  sudo etcd-harden snapshot save --dest /var/backups/etcd --keep 14
  sudo etcd-harden snapshot save --dest s3://backups/etcd/prod --encrypt-to age1… --keep 30
  AWS_ENDPOINT_URL=http://minio:9000 etcd-harden snapshot save --dest s3://b/p --encrypt-to-file recipients.txt -o json`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			switch {
			case o.dest == "":
				return &usageError{errors.New("--dest is required: a folder or s3://BUCKET/PREFIX")}
			case o.keep < 0:
				return &usageError{fmt.Errorf("--keep %d: give 0 (keep all) or more", o.keep)}
			case o.timeout <= 0:
				return &usageError{fmt.Errorf("--timeout %s: give a positive duration such as 5m", o.timeout)}
			case strings.ContainsRune(o.name, filepath.Separator):
				return &usageError{fmt.Errorf("--name %q: give a file name, not a path", o.name)}
			}
			if err := g.resolve(); err != nil {
				return err
			}
			scheduledMemory()
			if offsite.IsURL(o.dest) {
				req, err := o.off.request(o.dest, o.name, o.keep, o.timeout)
				if err != nil {
					return err
				}
				req.Rehearse = snapshot.RehearseNever // a schedule's run: the KV hash proves it
				return runOffsite(cmd.Context(), g, req, o.output, cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return runSaveFolder(cmd.Context(), g, o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dest, "dest", "", "Folder or s3://BUCKET/PREFIX to keep snapshots in (required)")
	f.StringVarP(&o.output, "output", "o", "", "Output format: json or text")
	f.StringVar(&o.name, "name", "", "Name of the snapshot, without .db (default etcd-snapshot-<UTC time>; --keep prunes only those)")
	f.DurationVar(&o.timeout, "timeout", snapshot.DefaultTimeout, "Give up when the save and verification (and again the upload) take longer")
	f.IntVar(&o.keep, "keep", snapshot.DefaultKeep, "Keep this many of the newest snapshots of this cluster (0 keeps all)")
	o.off.register(f, true)
	return cmd
}

// scheduledGC is the garbage collector's target for the commands that stream a whole
// database on a control-plane node beside etcd: `snapshot save` (what a schedule runs),
// `snapshot test` and `verify` (and their verify child) and `encryption status`. Their
// live heap is small (the stream goes file to file, pages are dropped once counted), so
// collecting at 50 % growth instead of Go's 100 % costs little CPU and keeps less resident
// (about 6 MiB on a 1 GiB snapshot; see the README).
const scheduledGC = 50

// scheduledMemory sets scheduledGC unless GOGC says otherwise.
func scheduledMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(scheduledGC)
	}
}

func runSaveFolder(ctx context.Context, g *globalOptions, o *snapshotSaveOptions, out io.Writer) error {
	rs, _, err := o.off.sealing()
	if err != nil {
		return err
	}
	dest, err := filepath.Abs(o.dest)
	if err != nil {
		return &usageError{fmt.Errorf("--dest %s: %w", o.dest, err)}
	}
	conn, st, err := g.etcdConn()
	if err != nil {
		return err
	}
	rep, err := offsite.SaveFolder(ctx, conn, st, offsite.FolderRequest{Dest: dest, Name: o.name, Recipients: rs, Keep: o.keep, Timeout: o.timeout, Rehearse: snapshot.RehearseNever})
	return printFolderReport(ctx, g, out, o.output, rep, conn.Endpoint(), dest, "none", err)
}

// runSealedFolderTest is `snapshot test --dest FOLDER --encrypt-to …`: the test, then the
// test snapshot sealed in the folder (its plaintext removed), and a schedule that runs
// `etcd-harden snapshot save --encrypt-to …`, never etcdctl in the clear.
func runSealedFolderTest(ctx context.Context, g *globalOptions, o *snapshotTestOptions, conn etcdconn.Conn, st *discover.State, rs *seal.Recipients, out io.Writer) error {
	if o.name != "" {
		if final := snapshot.FinalPath(o.dest, o.name); fileExists(final) || fileExists(final+seal.Suffix) {
			return fmt.Errorf("--name %s: a snapshot of that name is already in %s; choose another name (nothing was written)", o.name, o.dest)
		}
	}
	rep, err := offsite.SaveFolder(ctx, conn, st, offsite.FolderRequest{Dest: o.dest, Name: o.name, Recipients: rs, Timeout: o.timeout,
		Rehearse: snapshot.Rehearsal(o.rehearse), Schedule: o.schedule, ScheduleKeep: o.keep, Write: o.write})
	return printFolderReport(ctx, g, out, o.output, rep, conn.Endpoint(), o.dest, o.schedule, err)
}

// printFolderReport prints a save into a folder (sealed or not) and its schedule.
func printFolderReport(ctx context.Context, g *globalOptions, out io.Writer, output string, rep *offsite.Report, endpoint, dest, schedule string, err error) error {
	if output == "json" {
		if perr := printJSON(out, rep); perr != nil {
			return perr
		}
		return finish(ctx, err, rep)
	}
	r := g.renderer(out)
	facts := view.SnapshotFacts(rep.Local, endpoint, dest)
	facts = append(facts, view.OffsiteFacts(rep, nil, "")...)
	blocks := []string{r.Facts(facts, 0)}
	if cs := view.OffsiteChecks(rep); len(cs) > 0 {
		blocks = append(blocks, r.Checks(cs, 0))
	}
	if err != nil {
		blocks = append(blocks, r.Error(offsiteErrorView(err, rep, endpoint, dest), 0))
	} else {
		blocks = append(blocks, view.ScheduleBlocks(r, 0, rep.Local, schedule)...)
	}
	if _, perr := fmt.Fprintln(out, strings.Join(blocks, "\n\n")); perr != nil {
		return perr
	}
	return finish(ctx, err, rep)
}

// snapshotFetchOptions are the flags of `snapshot fetch`.
type snapshotFetchOptions struct {
	out, output string
	off         offsiteFlags
}

func newSnapshotFetchCmd(g *globalOptions) *cobra.Command {
	o := &snapshotFetchOptions{}
	cmd := &cobra.Command{
		Use:   "fetch SRC -o FILE [--identity FILE]",
		Short: "Bring a snapshot back: download, decrypt, verify, ready for etcdutl snapshot restore",
		Long: `snapshot fetch is the way back. SRC is an s3://BUCKET/KEY URL, s3://BUCKET/PREFIX/ (ending
in "/": the newest snapshot etcd-harden wrote there), or a local path. It downloads the
snapshot, decrypts it with --identity when it is sealed, compares its sha256 with the one
recorded at upload, writes FILE (mode 0600) and verifies it as a fresh snapshot is verified
(sha256 trailer, bbolt check, status, restore rehearsal). FILE is then what
"etcdutl snapshot restore FILE --data-dir …" takes. Nothing is left under FILE when a step
before the verification fails; a file that fails the verification is moved aside.`,
		Example: `  etcd-harden snapshot fetch s3://backups/etcd/prod/ -o /var/tmp/restore.db --identity ~/etcd-backup.key
  etcd-harden snapshot fetch s3://backups/etcd/prod/etcd-snapshot-20261201T061700Z.db.age -o restore.db --identity key.txt
  etcd-harden snapshot fetch ./etcd-snapshot-20261201T061700Z.db.age -o restore.db --identity key.txt`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if o.out == "" {
				return &usageError{errors.New("-o FILE is required: where to leave the snapshot")}
			}
			_, ids, err := o.off.sealing()
			if err != nil {
				return err
			}
			return runFetch(cmd.Context(), g, offsite.FetchRequest{Src: args[0], Out: o.out, Store: offsite.Config{Endpoint: o.off.s3Endpoint}, Identity: ids}, o.output, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.out, "out", "o", "", "File to write the plaintext snapshot to (required; must not exist)")
	f.StringVar(&o.output, "output", "", "Output format: json or text")
	o.off.register(f, false)
	return cmd
}

func runFetch(ctx context.Context, g *globalOptions, req offsite.FetchRequest, output string, out io.Writer) error {
	res, err := offsite.Fetch(ctx, req)
	if res == nil {
		res = &offsite.Fetched{Src: req.Src, Out: req.Out}
	}
	if output == "json" {
		if perr := printJSON(out, res); perr != nil {
			return perr
		}
		if err != nil {
			return errChecksFailed
		}
		return nil
	}
	r := g.renderer(out)
	var facts []render.Fact
	add := func(k, v string) { facts = append(facts, render.Fact{Key: k, Value: v}) }
	add("source", res.Src)
	if res.Object != nil {
		add("uploaded", res.Object.Modified.UTC().Format(time.RFC3339))
		add("revision", fmt.Sprint(res.Object.Meta.Revision))
	}
	if res.Sealed && req.Identity != nil && err == nil {
		add("sealed", "age, opened with "+req.Identity.Path())
	}
	if res.PlainSize > 0 {
		add("snapshot", fmt.Sprintf("%s (%s)", req.Out, snapshot.HumanBytes(res.PlainSize)))
	}
	blocks := []string{r.Facts(facts, 0)}
	if v := res.Verification; v != nil {
		var cs []render.Check
		for _, st := range v.Steps {
			cs = append(cs, render.Check{ID: "verify", Title: st.Name, Status: render.Status(st.Status), Detail: st.Message})
		}
		blocks = append(blocks, r.Checks(cs, 0))
	}
	if err != nil {
		fix := "fetch an older snapshot (or the right --identity), then try again"
		if errors.Is(err, offsite.ErrNeedIdentity) || errors.Is(err, seal.ErrWrongIdentity) {
			fix = "pass --identity with the private key whose public key the snapshot was sealed to"
		}
		blocks = append(blocks, r.Error(render.Error{What: err.Error(), Path: req.Src, Fix: fix}, 0))
	} else {
		blocks = append(blocks, "Restore it with: etcdutl snapshot restore "+req.Out+" --data-dir /var/lib/etcd-restored (see the README's disaster recovery)")
	}
	if _, perr := fmt.Fprintln(out, strings.Join(blocks, "\n\n")); perr != nil {
		return perr
	}
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return errChecksFailed
	}
	return nil
}

// runSnapshotTestOffsite is `snapshot test --dest s3://…`: the S3 checks, the full local
// test in --staging, sealing, upload and read-back; --keep prunes only when given.
func runSnapshotTestOffsite(cmd *cobra.Command, g *globalOptions, o *snapshotTestOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	if o.timeout <= 0 {
		return &usageError{fmt.Errorf("--timeout %s: give a positive duration such as 5m", o.timeout)}
	}
	if strings.ContainsRune(o.name, filepath.Separator) {
		return &usageError{fmt.Errorf("--name %q: give a file name, not a path", o.name)}
	}
	if err := g.resolve(); err != nil {
		return err
	}
	keep := 0
	if cmd.Flags().Changed("keep") {
		keep = o.keep
	}
	if err := snapshot.CheckSchedule(o.schedule); err != nil {
		return &usageError{fmt.Errorf("--schedule %q: %w", o.schedule, err)}
	}
	req, err := o.off.request(o.dest, o.name, keep, o.timeout)
	if err != nil {
		return err
	}
	if o.write && o.schedule == "none" {
		return &usageError{errors.New("--write writes the schedule files: pass --schedule cronjob, systemd or both")}
	}
	req.Schedule, req.Rehearse = o.schedule, snapshot.Rehearsal(o.rehearse)
	req.Write, req.ScheduleDir = o.write, filepath.Join(g.layout().Root, "etc", "etcd-harden")
	return runOffsite(cmd.Context(), g, req, o.output, cmd.OutOrStdout(), cmd.ErrOrStderr())
}
