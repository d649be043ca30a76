package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// KVHash is a snapshot's key-value hash at a revision, the number etcd's
// Maintenance.HashKV gives for the same revision (mvcc's HashByRev).
type KVHash struct {
	Hash     uint32 `json:"hash"`
	Revision int64  `json:"revision"`
	// CompactRevision is the revision of the last compaction (scheduled or finished, as
	// the member holds it in memory); 0 when the database was never compacted.
	CompactRevision int64 `json:"compactRevision"`
	// ConsistentIndex is the raft index the database had applied (meta bucket).
	ConsistentIndex uint64 `json:"consistentIndex"`
	// LatestRevision is the snapshot's own revision (the newest in the key bucket, or
	// the compact revision when that is newer).
	LatestRevision int64 `json:"latestRevision"`
	// LiveKeys is the number of keys at the latest revision (0 at an older one).
	LiveKeys int `json:"liveKeys"`
}

// ErrRevisionCompacted is returned by HashFile for a revision older than the snapshot's
// compact revision: etcd cannot hash there either.
var ErrRevisionCompacted = errors.New("the revision is older than the compact revision")

// Bucket and meta key names, as etcd's storage/schema spells them.
var (
	keyBucket       = []byte("key")
	metaBucket      = []byte("meta")
	scheduledCompac = []byte("scheduledCompactRev")
	finishedCompact = []byte("finishedCompactRev")
	consistentIndex = []byte("consistent_index")
)

// castagnoli is the crc32 table etcd hashes with.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// HashFile computes the KV hash of the snapshot (a bbolt etcd database) at rev, the
// snapshot's own revision when rev is 0, the way etcd's HashByRev does over its backend.
// At the snapshot's own revision KVHash.LiveKeys counts its keys too.
func HashFile(path string, rev int64) (h *KVHash, err error) {
	defer recoverInto(&err)
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bbolt cannot open it: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var herr error
		h, herr = hashTx(tx, rev, nil)
		return herr
	})
	return h, err
}

// hashTx is HashByRev in one cursor pass over the key bucket, with no index of the whole
// database; each, when not nil, sees every entry of the bucket on the way (the status
// hash of Inspect).
//
// etcd hashes, in revision order, every (revision key, value) with revision ≤ rev, except
// that an entry at or below the compact revision C counts only when it is in the keep set
// of rev (mvcc's treeIndex.Keep: the newest revision ≤ rev of each key live at rev),
// unless that set is empty, and a tombstone at C never counts.
//
// Whether an entry ≤ C is its key's newest revision ≤ rev depends on later entries, so
// when C > 0 a first, short pass reads the entries after the last finished compaction F
// (recentKeys): a finished compaction leaves at most one entry per key at or below F, so
// an entry ≤ F is kept exactly when its key was not written after F. Memory is one
// record per key written since F (kube-apiserver compacts every 5 minutes), none when
// the database was never compacted, and never the values.
func hashTx(tx *bolt.Tx, rev int64, each func(k, v []byte)) (*KVHash, error) {
	kb := tx.Bucket(keyBucket)
	if kb == nil {
		return nil, errors.New("the snapshot has no key bucket: it is not an etcd v3 database")
	}
	out := &KVHash{}
	if mb := tx.Bucket(metaBucket); mb != nil {
		if ci := mb.Get(consistentIndex); len(ci) == 8 {
			out.ConsistentIndex = binary.BigEndian.Uint64(ci)
		}
	}
	scheduled, finished := compactRevisions(tx)
	compact := max(scheduled, finished)
	latest := latestRevision(tx)
	if rev == 0 {
		rev = latest
	}
	out.Revision, out.CompactRevision, out.LatestRevision = rev, compact, latest
	if rev < compact {
		return out, fmt.Errorf("%w: revision %d, compact revision %d", ErrRevisionCompacted, rev, compact)
	}
	if rev > latest {
		return out, fmt.Errorf("revision %d is newer than the snapshot's %d", rev, latest)
	}
	var recent *recentKeys
	if compact > 0 {
		var err error
		if recent, err = readRecent(kb, min(finished, compact), rev); err != nil {
			return out, err
		}
	}

	var (
		keep    = crc32.Update(0, castagnoli, keyBucket) // entries ≤ C in the keep set
		all     = keep                                   // entries ≤ C, for an empty keep set
		kept    bool                                     // the keep set has an entry ≤ C
		h       uint32
		decided bool
		live    int // keys live at rev (valid when rev is the latest)
	)
	decide := func() {
		if !decided {
			h, decided = all, true
			if kept || (recent != nil && recent.anyLive) {
				h = keep
			}
		}
	}
	c := kb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if each != nil {
			each(k, v)
		}
		if len(k) < 17 {
			return out, fmt.Errorf("key bucket entry %x is not a revision", k)
		}
		main := revMain(k)
		if main > rev {
			if each == nil {
				break
			}
			continue
		}
		tomb := len(k) == 18 && k[17] == 't'
		if main > compact {
			decide()
			h = crc32.Update(crc32.Update(h, castagnoli, k), castagnoli, v)
			if recent == nil { // never compacted: every key begins with a create
				switch created, err := isCreate(v, tomb); {
				case err != nil:
					return out, fmt.Errorf("revision %d: %w", main, err)
				case tomb:
					live--
				case created:
					live++
				}
			}
			continue
		}
		if !(tomb && main == compact) {
			all = crc32.Update(crc32.Update(all, castagnoli, k), castagnoli, v)
		}
		if tomb {
			continue
		}
		uk, err := userKey(v)
		if err != nil {
			return out, fmt.Errorf("revision %d: %w", main, err)
		}
		if recent.newest(uk, main) {
			keep = crc32.Update(crc32.Update(keep, castagnoli, k), castagnoli, v)
			kept = true
			if main <= recent.after {
				live++
			}
		}
	}
	decide()
	if recent != nil {
		live += recent.live
	}
	out.Hash = h
	if rev == latest {
		out.LiveKeys = live
	}
	return out, nil
}

// compactRevisions are the scheduled and finished compact revisions of the meta bucket
// (0 when never compacted).
func compactRevisions(tx *bolt.Tx) (scheduled, finished int64) {
	if mb := tx.Bucket(metaBucket); mb != nil {
		return revMain(mb.Get(scheduledCompac)), revMain(mb.Get(finishedCompact))
	}
	return 0, 0
}

// latestRevision is the snapshot's own revision: the newest in the key bucket, or the
// compact revision when that is newer. It reads one path of the tree.
func latestRevision(tx *bolt.Tx) int64 {
	scheduled, finished := compactRevisions(tx)
	latest := max(scheduled, finished)
	if kb := tx.Bucket(keyBucket); kb != nil {
		if k, _ := kb.Cursor().Last(); k != nil {
			latest = max(latest, revMain(k))
		}
	}
	return latest
}

// recentKeys are the keys written after the last finished compaction, up to a revision:
// the newest revision of each, by a 64-bit hash of the key (maphash; a collision among a
// few million keys is about 1 in 10^7, and it could only turn a match into a mismatch).
type recentKeys struct {
	after   int64             // F: the entries read are those in (F, rev]
	last    map[uint64]uint64 // key hash → newest revision << 1 | 1 for a tombstone
	live    int               // keys whose newest entry is a put
	anyLive bool
	seed    maphash.Seed
}

func readRecent(kb *bolt.Bucket, after, rev int64) (*recentKeys, error) {
	r := &recentKeys{after: after, last: map[uint64]uint64{}, seed: maphash.MakeSeed()}
	c := kb.Cursor()
	var from [8]byte
	binary.BigEndian.PutUint64(from[:], uint64(after+1))
	for k, v := c.Seek(from[:]); k != nil && revMain(k) <= rev; k, v = c.Next() {
		uk, err := userKey(v)
		if err != nil {
			return nil, fmt.Errorf("revision %d: %w", revMain(k), err)
		}
		rec := uint64(revMain(k)) << 1
		if len(k) == 18 && k[17] == 't' {
			rec |= 1
		}
		r.last[maphash.Bytes(r.seed, uk)] = rec
	}
	for _, rec := range r.last {
		if rec&1 == 0 {
			r.live++
		}
	}
	r.anyLive = r.live > 0
	return r, nil
}

// newest reports whether the put of key at main (≤ the compact revision) is the key's
// newest revision up to the hashed revision.
func (r *recentKeys) newest(key []byte, main int64) bool {
	rec, ok := r.last[maphash.Bytes(r.seed, key)]
	if main <= r.after {
		return !ok
	}
	return ok && int64(rec>>1) == main // between F and C a key may have several entries
}

// isCreate reports whether the put v begins its key's life (version 1).
func isCreate(v []byte, tomb bool) (bool, error) {
	if tomb {
		return false, nil
	}
	for b := v; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, errors.New("the value is not an etcd KeyValue")
		}
		b = b[n:]
		if num == 4 && typ == protowire.VarintType { // version
			ver, m := protowire.ConsumeVarint(b)
			return m > 0 && ver == 1, nil
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return false, errors.New("the value is not an etcd KeyValue")
		}
		b = b[n:]
	}
	return false, nil
}

// revMain is the main revision of a revision key (8 bytes big-endian first); 0 when b
// is too short (a missing meta key).
func revMain(b []byte) int64 {
	if len(b) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// userKey reads the key (field 1) of an mvccpb.KeyValue without decoding the value.
func userKey(v []byte) ([]byte, error) {
	if len(v) > 1 && v[0] == 0x0a {
		n, w := binary.Uvarint(v[1:])
		if w > 0 && uint64(len(v)-1-w) >= n {
			return v[1+w : 1+w+int(n)], nil
		}
	}
	var kv mvccpb.KeyValue
	if err := proto.Unmarshal(v, &kv); err != nil {
		return nil, fmt.Errorf("the value is not an etcd KeyValue: %w", err)
	}
	return kv.Key, nil
}
