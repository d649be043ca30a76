package offsite

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
)

// namePrefix starts the name of every snapshot this tool writes (snapshot.DefaultName).
const namePrefix = "etcd-snapshot-"

// snapshotName is the name of a snapshot this tool writes by default, sealed or not:
// etcd-snapshot-20060102T150405Z.db[.age]. Names sort by time.
var snapshotName = regexp.MustCompile(`^etcd-snapshot-\d{8}T\d{6}Z\.db(\.age)?$`)

// isSnapshotKey reports whether key is a snapshot name directly under t's prefix.
func isSnapshotKey(t Target, key string) bool {
	rest, ok := strings.CutPrefix(key, t.keyPrefix())
	return ok && snapshotName.MatchString(rest)
}

// Object is a snapshot this tool wrote, as the store lists it.
type Object struct {
	Key      string    `json:"key"`
	URL      string    `json:"url"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Meta     Meta      `json:"meta"`
}

// List returns the snapshots this tool wrote under the prefix (a snapshot name and the
// MarkKey metadata), newest first. clusterID "" lists every cluster's.
func (s *Store) List(ctx context.Context, clusterID string) ([]Object, error) {
	var out []Object
	opts := minio.ListObjectsOptions{Prefix: s.target.keyPrefix() + namePrefix}
	for o := range s.cli.ListObjects(ctx, s.target.Bucket, opts) {
		if o.Err != nil {
			return nil, s.explain(o.Err, "s3:ListBucket", s.target.String())
		}
		if !isSnapshotKey(s.target, o.Key) {
			continue
		}
		// Listings carry no user metadata on most stores: ask for each candidate.
		st, err := s.cli.StatObject(ctx, s.target.Bucket, o.Key, minio.StatObjectOptions{})
		if err != nil {
			return nil, s.explain(err, "s3:GetObject", s.target.ObjectURL(o.Key))
		}
		m, ours := readMeta(st.UserMetadata)
		if !ours || clusterID != "" && m.ClusterID != clusterID {
			continue
		}
		out = append(out, Object{Key: o.Key, URL: s.target.ObjectURL(o.Key), Size: st.Size, Modified: st.LastModified, Meta: m})
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(b.Key, a.Key) })
	return out, nil
}

// Pruned is what Prune did.
type Pruned struct {
	Kept    []string `json:"kept"`
	Removed []string `json:"removed"`
	// Retained are old snapshots the store refused to delete (object lock): they go when
	// their retention ends.
	Retained []string `json:"retained,omitempty"`
}

// Prune keeps the keep newest snapshots of clusterID under the prefix and removes the
// older ones. It never touches an object it did not write: another name, no MarkKey
// metadata, or another cluster's.
func (s *Store) Prune(ctx context.Context, clusterID string, keep int) (*Pruned, error) {
	if keep < 1 {
		return nil, fmt.Errorf("keep %d: keep at least 1 snapshot", keep)
	}
	if clusterID == "" {
		return nil, fmt.Errorf("prune %s: the cluster ID is unknown, so nothing is removed", s.target)
	}
	objs, err := s.List(ctx, clusterID)
	if err != nil {
		return nil, err
	}
	p := &Pruned{}
	for i, o := range objs {
		if i < keep {
			p.Kept = append(p.Kept, o.Key)
			continue
		}
		err := s.cli.RemoveObject(ctx, s.target.Bucket, o.Key, minio.RemoveObjectOptions{})
		switch {
		case err == nil:
			p.Removed = append(p.Removed, o.Key)
		case minio.ToErrorResponse(err).Code == "AccessDenied" && strings.Contains(strings.ToLower(minio.ToErrorResponse(err).Message), "retention"):
			p.Retained = append(p.Retained, o.Key)
		default:
			return p, s.explain(err, "s3:DeleteObject", o.URL)
		}
	}
	return p, nil
}
