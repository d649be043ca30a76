package offsite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/seal"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

// PruneFolder keeps the keep newest snapshots in dir and removes the older ones, as Prune
// does in a bucket. It only touches the names this tool gives by default
// (etcd-snapshot-<UTC time>.db and .db.age), so that other files are never removed.
func PruneFolder(dir string, keep int) (*Pruned, error) {
	if keep < 1 {
		return nil, fmt.Errorf("keep %d: keep at least 1 snapshot", keep)
	}
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("prune %s: %w", dir, err)
	}
	var names []string
	for _, d := range des {
		if d.Type().IsRegular() && snapshotName.MatchString(d.Name()) {
			names = append(names, d.Name())
		}
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(b, a) })
	p := &Pruned{}
	for i, n := range names {
		path := filepath.Join(dir, n)
		if i < keep {
			p.Kept = append(p.Kept, path)
			continue
		}
		if err := os.Remove(path); err != nil {
			return p, fmt.Errorf("prune %s: %w", dir, err)
		}
		p.Removed = append(p.Removed, path)
	}
	return p, nil
}

// FolderRequest is `snapshot save` into a folder.
type FolderRequest struct {
	Dest string
	Name string
	// Recipients, when any, seal the snapshot in the folder: NAME.db.age stays, the
	// plaintext goes.
	Recipients *seal.Recipients
	// Keep prunes the folder to the Keep newest snapshots; 0 keeps all.
	Keep    int
	Timeout time.Duration
	// Rehearse says when the restore rehearsal runs (snapshot.Rehearsal; "" is auto).
	Rehearse snapshot.Rehearsal
	// Schedule is the schedule to suggest (snapshot.Schedules; "" is "none"): with
	// Recipients it runs `etcd-harden snapshot save --encrypt-to …` (FolderSaveArgs), since
	// etcdctl would leave the snapshots in the clear. ScheduleKeep is its --keep.
	Schedule     string
	ScheduleKeep int
	// Write writes the schedule files into Dest after a passing save.
	Write bool
}

// SaveFolder is `snapshot save` into a folder: the folder checks, the save and its
// verification (snapshot.Job), the sealing when asked, and the pruning.
func SaveFolder(ctx context.Context, conn etcdconn.Conn, st *discover.State, r FolderRequest) (*Report, error) {
	rep := &Report{Dest: r.Dest}
	sr := snapshot.Request{Dest: r.Dest, Name: r.Name, Timeout: r.Timeout, Rehearse: r.Rehearse,
		Schedule: r.Schedule, Keep: r.ScheduleKeep, Write: r.Write}
	if r.Recipients.Len() > 0 {
		sr.SaveArgs = FolderSaveArgs(r.Dest, r.Recipients, r.ScheduleKeep)
	}
	job, err := snapshot.NewJob(conn, st, sr)
	if err != nil {
		return rep, rep.fail(err)
	}
	local, err := job.Run(ctx, nil)
	rep.Local = local
	if err != nil {
		return rep, rep.fail(err)
	}
	if r.Recipients.Len() > 0 {
		s, err := r.Recipients.SealFile(ctx, local.Save.Path)
		if err != nil {
			return rep, rep.fail(err)
		}
		rep.Sealed = s
		if err := os.Remove(local.Save.Path); err != nil {
			return rep, rep.fail(fmt.Errorf("sealed into %s, but the plaintext %s could not be removed: %w; remove it by hand", s.Path, local.Save.Path, err))
		}
	}
	if r.Keep > 0 {
		if rep.Pruned, err = PruneFolder(r.Dest, r.Keep); err != nil {
			return rep, rep.fail(err)
		}
	}
	return rep, nil
}
