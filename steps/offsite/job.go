package offsite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// StaleUpload is how old an incomplete upload of a snapshot must be before a run aborts it
// as left by a killed run (an upload in progress elsewhere is younger).
const StaleUpload = 6 * time.Hour

// ErrNotSealed is wrapped by NewJob's error when an S3 destination has no recipient and
// plaintext was not asked for.
var ErrNotSealed = errors.New("an offsite snapshot must be sealed")

// Request is what a door asks of an offsite test or save.
type Request struct {
	// Dest is the s3://BUCKET/PREFIX URL.
	Dest  string
	Store Config
	// Staging is the local folder where the snapshot is saved, verified and sealed before
	// it leaves the node; both files are removed when the run ends.
	Staging string
	// Name of the snapshot; snapshot.DefaultName(now) when "".
	Name       string
	Recipients *seal.Recipients
	// Plaintext uploads without sealing (--no-encrypt): only when Recipients is empty.
	Plaintext bool
	// Identity, when not nil, also decrypts the read-back and compares the plaintext.
	Identity *seal.Identities
	// Keep prunes to the Keep newest snapshots of this cluster under the prefix; 0 keeps all.
	Keep int
	// Timeout bounds the save and the verification (snapshot.DefaultTimeout when 0), and
	// again the upload and the read-back.
	Timeout time.Duration
	// Schedule is the schedule to show, one of snapshot.Schedules ("" is "none"): units
	// that run `etcd-harden snapshot save` with this request's flags.
	Schedule string
	// Rehearse says when the restore rehearsal runs (snapshot.Rehearsal; "" is auto).
	Rehearse snapshot.Rehearsal
	// Write asks for the schedule files to be written into ScheduleDir after a passing run
	// (WriteSchedule): the units, and the environment file's template when none is there.
	Write       bool
	ScheduleDir string
}

// Report is the whole of an offsite run, ready for `-o json`. Sections that did not run
// are nil.
type Report struct {
	Dest string `json:"dest"`
	// Checks are the S3 destination's.
	Checks []snapshot.Check `json:"checks"`
	// Local is the save and verification in the staging folder.
	Local    *snapshot.Report `json:"local,omitempty"`
	Sealed   *seal.Sealed     `json:"sealed,omitempty"`
	Upload   *Upload          `json:"upload,omitempty"`
	ReadBack *ReadBack        `json:"readBack,omitempty"`
	Pruned   *Pruned          `json:"pruned,omitempty"`
	// Aborted are incomplete uploads left by killed runs that this run aborted.
	Aborted  []string       `json:"abortedUploads,omitempty"`
	Schedule *ScheduleFiles `json:"schedule,omitempty"`
	Error    string         `json:"error,omitempty"`
}

func (r *Report) fail(err error) error {
	r.Error = err.Error()
	return err
}

// Job is one offsite run with its inputs resolved.
type Job struct {
	conn   etcdconn.Conn
	st     *discover.State
	req    Request
	target Target
	store  *Store
}

// NewJob resolves a run: the URL, the store's client and credentials (nothing is sent
// yet), and the sealing. An S3 destination without a recipient is refused unless
// Plaintext is set: a snapshot holds every Secret of the cluster.
func NewJob(conn etcdconn.Conn, st *discover.State, r Request) (*Job, error) {
	t, err := ParseURL(r.Dest)
	if err != nil {
		return nil, err
	}
	if r.Recipients.Len() == 0 && !r.Plaintext {
		return nil, fmt.Errorf("%w: pass --encrypt-to age1… (or --encrypt-to-file FILE) with the public key of whoever restores; a snapshot holds every Secret of the cluster (--no-encrypt uploads it in the clear anyway)", ErrNotSealed)
	}
	if r.Staging == "" {
		return nil, errors.New("no staging folder for the snapshot before it leaves the node: pass --staging")
	}
	if r.Write && r.ScheduleDir == "" && r.Schedule != "" && r.Schedule != "none" {
		return nil, errors.New("no folder to write the schedule files into")
	}
	if r.Timeout <= 0 {
		r.Timeout = snapshot.DefaultTimeout
	}
	s, err := Open(r.Store, t)
	if err != nil {
		return nil, err
	}
	return &Job{conn: conn, st: st, req: r, target: t, store: s}, nil
}

// Store is the opened destination.
func (j *Job) Store() *Store { return j.store }

// Observer follows a run; any field may be nil.
type Observer struct {
	Save   func(snapshot.Progress)
	Upload func(sent, total int64)
}

// Run is the offsite run as every door runs it (`snapshot test --dest s3://…`,
// `snapshot save`, the wizard's backup step): etcd's connection check, the S3 checks (a
// probe object is written, read and deleted) before anything is saved, then the local save
// and verification in the staging folder (snapshot.Job: the sha256 trailer, bbolt,
// status, the restore rehearsal, the member's KV hash), sealing, the upload, the read-back
// (decrypted and compared with the verified plaintext when an identity is given), and the
// pruning to Keep. The staging files are removed however it ends.
func (j *Job) Run(ctx context.Context, obs Observer) (*Report, error) {
	rep := &Report{Dest: j.target.String()}
	if j.req.Schedule != "" && j.req.Schedule != "none" {
		so := snapshot.ScheduleOptions{Endpoint: j.conn.Endpoint(), CACert: j.conn.CACert, Cert: j.conn.Cert, Key: j.conn.Key, Keep: j.req.Keep}
		if j.st != nil && j.st.Etcd != nil {
			so.Image = j.st.Etcd.Image
		}
		rep.Schedule = Schedule(j.req, so)
	}
	if err := j.conn.Check(ctx); err != nil {
		return rep, rep.fail(err)
	}
	tctx, cancel := context.WithTimeout(ctx, j.req.Timeout)
	rep.Checks = j.store.CheckDest(tctx)
	cancel()
	if snapshot.Failed(rep.Checks) {
		return rep, rep.fail(fmt.Errorf("%w: %s", snapshot.ErrDestination, firstFailure(rep.Checks)))
	}
	if aborted, err := j.store.CleanIncomplete(ctx, StaleUpload); err == nil {
		rep.Aborted = aborted
	}
	rep.Aborted = append(rep.Aborted, j.abortLeft(ctx)...)
	cluster, err := clusterID(ctx, j.conn)
	if err != nil {
		return rep, rep.fail(err)
	}
	name := j.req.Name
	if name == "" {
		name = snapshot.DefaultName(time.Now())
	}
	if err := os.MkdirAll(j.req.Staging, 0o700); err != nil {
		return rep, rep.fail(fmt.Errorf("staging folder %s: %w; pass another --staging", j.req.Staging, err))
	}
	inner, err := snapshot.NewJob(j.conn, j.st, snapshot.Request{Dest: j.req.Staging, Name: name, Timeout: j.req.Timeout, Rehearse: j.req.Rehearse})
	if err != nil {
		return rep, rep.fail(err)
	}
	local, err := inner.Run(ctx, obs.Save)
	rep.Local = local
	if local != nil && local.Save != nil {
		defer os.Remove(local.Save.Path)
	}
	if err != nil {
		return rep, rep.fail(err)
	}
	uctx, cancel := context.WithTimeout(ctx, j.req.Timeout)
	defer cancel()
	if err := j.ship(uctx, rep, name, cluster, obs); err != nil {
		if ctx.Err() == nil && errors.Is(uctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w %s: %w", snapshot.ErrTimedOut, j.req.Timeout, err)
		}
		return rep, rep.fail(err)
	}
	if j.req.Write && rep.Schedule != nil {
		if err := WriteSchedule(j.req.ScheduleDir, j.req.Schedule, rep.Schedule); err != nil {
			return rep, rep.fail(err)
		}
	}
	return rep, nil
}

// ship seals, uploads, reads back and prunes.
func (j *Job) ship(ctx context.Context, rep *Report, name, cluster string, obs Observer) error {
	plain := rep.Local.Save.Path
	path, objName := plain, name+".db"
	meta := Meta{ClusterID: cluster}
	if rep.Local.Verification != nil {
		meta.Revision = rep.Local.Verification.Revision
	}
	if j.req.Recipients.Len() > 0 {
		s, err := j.req.Recipients.SealFile(ctx, plain)
		if err != nil {
			return err
		}
		defer os.Remove(s.Path)
		rep.Sealed = s
		path, objName = s.Path, objName+seal.Suffix
		meta.SHA256, meta.PlainSHA256, meta.Sealed = s.SHA256, s.PlainSHA256, "age"
	} else {
		sum, err := fileSHA256(ctx, plain)
		if err != nil {
			return err
		}
		meta.SHA256, meta.PlainSHA256 = sum, sum
	}
	up, err := j.store.Put(ctx, objName, path, meta, obs.Upload)
	if errors.Is(err, ErrLeftIncomplete) {
		j.rememberLeft(j.target.Key(objName))
	}
	if err != nil {
		return err
	}
	rep.Upload = up
	if rep.ReadBack, err = j.store.ReadBack(ctx, up, j.req.Identity); err != nil {
		return err
	}
	if j.req.Keep > 0 {
		if rep.Pruned, err = j.store.Prune(ctx, cluster, j.req.Keep); err != nil {
			return fmt.Errorf("the snapshot is uploaded and read back, but pruning to --keep %d failed: %w", j.req.Keep, err)
		}
	}
	return nil
}

func firstFailure(checks []snapshot.Check) string {
	for _, c := range checks {
		if c.Status == snapshot.StatusFail {
			return c.Name + ": " + c.Message
		}
	}
	return ""
}

// clusterID asks etcd for its cluster ID, which marks the objects --keep may prune.
func clusterID(ctx context.Context, conn etcdconn.Conn) (string, error) {
	cli, err := conn.Client(ctx)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := cli.Status(sctx, conn.Endpoint())
	if err != nil {
		return "", fmt.Errorf("ask etcd at %s for its cluster ID: %w", conn.Endpoint(), err)
	}
	return strconv.FormatUint(st.Header.ClusterId, 16), nil
}

// leftFile lists, in the staging folder, the keys whose multipart uploads a run could not
// abort (the store was gone): some stores list incomplete uploads only by exact key.
const leftFile = ".incomplete-uploads"

func (j *Job) rememberLeft(key string) {
	f, err := os.OpenFile(filepath.Join(j.req.Staging, leftFile), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	fmt.Fprintln(f, j.target.Bucket+" "+key)
}

// abortLeft aborts the uploads earlier runs could not, and forgets those it aborted.
func (j *Job) abortLeft(ctx context.Context) []string {
	path := filepath.Join(j.req.Staging, leftFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var aborted, still []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		bucket, key, ok := strings.Cut(line, " ")
		if !ok || bucket != j.target.Bucket || !isSnapshotKey(j.target, key) {
			if line != "" {
				still = append(still, line)
			}
			continue
		}
		if err := j.store.Abort(ctx, key); err != nil {
			still = append(still, line)
			continue
		}
		aborted = append(aborted, key)
	}
	if len(still) == 0 {
		os.Remove(path)
	} else {
		_ = os.WriteFile(path, []byte(strings.Join(still, "\n")+"\n"), 0o600)
	}
	return aborted
}
