package snapshot

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// VerifyContent is the name of the check that compares the snapshot's KV hash with the
// member's.
const VerifyContent = "same data as the member"

// ErrMismatch is wrapped by Test's error when the snapshot's KV hash differs from the
// member's at the same revision.
var ErrMismatch = errors.New("the snapshot does not hold the member's data")

// Content is the comparison of the snapshot's KV hash with the one the member it came
// from gives (Maintenance.HashKV) at the snapshot's revision: StatusPass when identical,
// StatusFail on a mismatch, StatusWarn when they cannot be compared (Reason says why).
type Content struct {
	Status   Status `json:"status"`
	Member   string `json:"member"`
	Revision int64  `json:"revision"`
	FileHash uint32 `json:"fileHash"`
	// MemberHash and MemberCompactRevision are what the member answered (0 when it did not).
	MemberHash            uint32        `json:"memberHash"`
	CompactRevision       int64         `json:"compactRevision"`
	MemberCompactRevision int64         `json:"memberCompactRevision"`
	Message               string        `json:"message"`
	Reason                string        `json:"reason,omitempty"`
	Took                  time.Duration `json:"tookNs"`
}

// HashKVFunc asks a member for its KV hash at rev: the hash and the compact revision
// it hashed with (Maintenance.HashKV).
type HashKVFunc func(ctx context.Context, rev int64) (hash uint32, compactRev int64, err error)

// MemberHashKV is the HashKVFunc of cfg's single endpoint, over a client of its own.
func MemberHashKV(cfg clientv3.Config) HashKVFunc {
	return func(ctx context.Context, rev int64) (uint32, int64, error) {
		m, err := dial(cfg)
		if err != nil {
			return 0, 0, err
		}
		defer m.Close()
		return m.hashKV(ctx, rev)
	}
}

// CompareContent compares the snapshot's KV hash (kv, from the verification) with the
// member's at the same revision. It never passes what it could not compare.
func CompareContent(ctx context.Context, member string, kv *KVHash, hashKV HashKVFunc) *Content {
	start := time.Now()
	c := &Content{Member: member, Status: StatusWarn}
	defer func() { c.Took = time.Since(start) }()
	notComparable := func(reason string) *Content {
		c.Reason = reason
		c.Message = "not comparable: " + reason
		return c
	}
	if kv == nil {
		return notComparable("the snapshot's KV hash was not computed")
	}
	c.Revision, c.FileHash, c.CompactRevision = kv.Revision, kv.Hash, kv.CompactRevision
	hash, compact, err := hashKV(ctx, kv.Revision)
	switch {
	case errors.Is(err, rpctypes.ErrCompacted) || (err != nil && rpctypes.ErrorDesc(err) == rpctypes.ErrCompacted.Error()):
		return notComparable(fmt.Sprintf("%s no longer hashes at revision %d: it is compacted at or beyond it (compacted since the save, or etcd 3.4 at its compact revision)", member, kv.Revision))
	case err != nil:
		return notComparable(fmt.Sprintf("%s did not give its hash at revision %d: %v", member, kv.Revision, err))
	}
	compact = max(compact, 0)
	c.MemberHash, c.MemberCompactRevision = hash, compact
	if compact != kv.CompactRevision {
		return notComparable(fmt.Sprintf("%s hashed with compact revision %d, the snapshot has compact revision %d, so the hashes count different revisions", member, compact, kv.CompactRevision))
	}
	if hash != kv.Hash {
		c.Status = StatusFail
		c.Message = fmt.Sprintf("KV hash at revision %d is %d in the snapshot, %d on %s: the snapshot does not hold the member's data", kv.Revision, kv.Hash, hash, member)
		return c
	}
	c.Status = StatusPass
	c.Message = fmt.Sprintf("identical to %s at revision %d", member, kv.Revision)
	return c
}

// earlyHash asks the member for its KV hash as soon as the verification names the
// snapshot's revision (VerifyOptions.OnRevision): the member hashes its history while
// the child reads the file, and the comparison waits only for the slower of the two.
type earlyHash struct {
	ctx    context.Context
	hashKV HashKVFunc

	mu      sync.Mutex
	rev     int64
	done    chan struct{}
	hash    uint32
	compact int64
	err     error
}

func newEarlyHash(ctx context.Context, hashKV HashKVFunc) *earlyHash {
	return &earlyHash{ctx: ctx, hashKV: hashKV}
}

// start asks for the hash at rev, once.
func (e *earlyHash) start(rev int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done != nil {
		return
	}
	e.rev, e.done = rev, make(chan struct{})
	go func() {
		defer close(e.done)
		e.hash, e.compact, e.err = e.hashKV(e.ctx, rev)
	}()
}

// get is the HashKVFunc that answers from the early request when it was for rev.
func (e *earlyHash) get(ctx context.Context, rev int64) (uint32, int64, error) {
	e.mu.Lock()
	done, same := e.done, e.rev == rev
	e.mu.Unlock()
	if done == nil || !same {
		return e.hashKV(ctx, rev)
	}
	select {
	case <-done:
		return e.hash, e.compact, e.err
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}
