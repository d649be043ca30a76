package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/server/v3/storage/schema"

	"github.com/etcd-harden/etcd-harden/internal/boltcheck"
)

// inspection is what one read of a snapshot's bbolt file finds: what etcdutl's Status
// reports, the snapshot's KV hash and the bbolt consistency check.
type inspection struct {
	Revision       int64
	TotalKeys      int
	TotalSize      int64
	Hash           uint32 // etcdutl's status hash: every bucket's name, keys and values
	StorageVersion string
	KV             *KVHash
	Pages          int
	// Problems are what the bbolt check found (the first of Found); the rest is not to
	// be trusted when any. InUse pages belong to the tree, the rest are free.
	Problems     []string
	Found, InUse int
	// CheckTook and PassTook are the durations of the check and of the pass, which run
	// side by side.
	CheckTook, PassTook time.Duration
}

// inspect reads the snapshot once for what etcdutl's Status, a bbolt check and HashFile
// would each read it for: the check walks the pages in one goroutine (boltcheck: a bit
// per page, where bbolt's Tx.Check keeps maps that grow with the file and, on etcd's
// unsynced freelist, walks the tree twice) while one cursor pass over every bucket
// computes the status hash, the key count, the revision and the KV hash in another.
// etcdutl's Status alone runs the check itself, keeps a set of every key and decodes
// every value.
//
// onRevision, when not nil, is told the snapshot's revision first, from the meta bucket
// and the last key. yield runs both goroutines at a lower priority (yieldThread), for an
// inspection beside the restore rehearsal.
func inspect(path string, onRevision func(int64), yield bool) (in *inspection, err error) {
	defer recoverInto(&err)
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bbolt cannot open it: %w", err)
	}
	defer db.Close()
	passTx, err := db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("bbolt cannot read it: %w", err)
	}
	defer passTx.Rollback()

	if onRevision != nil {
		if rev := latestRevision(passTx); rev > 0 {
			onRevision(rev)
		}
	}
	in = &inspection{TotalSize: passTx.Size(), Pages: int(passTx.Size() / int64(db.Info().PageSize))}
	// Each goroutine yields its thread first when asked (yieldThread), so it runs on
	// one of its own.
	side := func(work func()) func() {
		return func() {
			if yield {
				yieldThread()
			}
			work()
		}
	}
	var cerr, perr error
	var wg sync.WaitGroup
	wg.Go(side(func() {
		start := time.Now()
		var res *boltcheck.Result
		if res, cerr = boltcheck.File(path, db.Info().PageSize); cerr == nil {
			in.Problems, in.Found, in.InUse = res.Problems, res.Found, res.Reached
		}
		in.CheckTook = time.Since(start)
	}))
	wg.Go(side(func() {
		start := time.Now()
		perr = in.pass(passTx)
		in.PassTook = time.Since(start)
	}))
	wg.Wait()
	if cerr != nil {
		return nil, fmt.Errorf("read it for the bbolt check: %w", cerr)
	}
	if len(in.Problems) > 0 {
		return in, nil // the check's verdict comes first; the pass may have read garbage
	}
	return in, perr
}

// pass is the one cursor pass of inspect.
func (in *inspection) pass(tx *bolt.Tx) (err error) {
	defer recoverInto(&err)
	if v := schema.ReadStorageVersionFromSnapshot(tx); v != nil {
		in.StorageVersion = v.String()
	}
	status := crc32.New(castagnoli)
	c := tx.Cursor()
	for name, _ := c.First(); name != nil; name, _ = c.Next() {
		b := tx.Bucket(name)
		if b == nil {
			return fmt.Errorf("%q is not a bucket", name)
		}
		status.Write(name)
		each := func(k, v []byte) { status.Write(k); status.Write(v) }
		if !bytes.Equal(name, keyBucket) {
			if err := b.ForEach(func(k, v []byte) error { each(k, v); return nil }); err != nil {
				return err
			}
			continue
		}
		kv, err := hashTx(tx, 0, each)
		if err != nil {
			return fmt.Errorf("compute the KV hash: %w", err)
		}
		in.KV, in.Revision, in.TotalKeys = kv, kv.LatestRevision, kv.LiveKeys
	}
	if in.KV == nil {
		return errors.New("the snapshot has no key bucket: it is not an etcd v3 database")
	}
	in.Hash = status.Sum32()
	return nil
}

// checkResult is the bbolt step's message or error.
func (in *inspection) checkResult() (string, error) {
	if p := in.Problems; len(p) > 0 {
		if len(p) > 5 {
			p = append(p[:5:5], fmt.Sprintf("and %d more", in.Found-5))
		}
		return "", fmt.Errorf("bbolt found %d problem(s): %s", in.Found, strings.Join(p, "; "))
	}
	return fmt.Sprintf("bbolt check found no problems in %d pages (%d in use)", in.Pages, in.InUse), nil
}
