package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/api/v3/mvccpb"
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
func HashFile(path string, rev int64) (h *KVHash, err error) {
	defer recoverInto(&err)
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("bbolt cannot open it: %w", err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		var herr error
		h, herr = hashTx(tx, rev)
		return herr
	})
	return h, err
}

// hashTx is HashByRev in one cursor pass over the key bucket, with no index of the whole
// database. etcd hashes, in revision order, every (revision key, value) with revision ≤
// rev, except that an entry at or below the compact revision C counts only when it is in
// the "keep" set (its key's latest revision ≤ rev, when that is not a tombstone; mvcc's
// keyIndex.keep at rev), unless that set is empty, and a tombstone at C never counts.
//
// Whether an entry ≤ C is kept is known only once the later revisions of its key were
// read, so those entries are hashed each on its own (crc and length) and chained at the
// end: crc32 is linear, so crc(c, A‖B) = crc(c, zeros(len B)) ^ raw(B). Memory is one map
// entry per key live at rev and one small record per put ≤ C (one per key once a
// compaction finished), never the values.
func hashTx(tx *bolt.Tx, rev int64) (*KVHash, error) {
	kb := tx.Bucket(keyBucket)
	if kb == nil {
		return nil, errors.New("the snapshot has no key bucket: it is not an etcd v3 database")
	}
	out := &KVHash{}
	var compact int64
	if mb := tx.Bucket(metaBucket); mb != nil {
		compact = max(revMain(mb.Get(scheduledCompac)), revMain(mb.Get(finishedCompact)))
		if ci := mb.Get(consistentIndex); len(ci) == 8 {
			out.ConsistentIndex = binary.BigEndian.Uint64(ci)
		}
	}
	latest := compact
	if k, _ := kb.Cursor().Last(); k != nil {
		latest = max(latest, revMain(k))
	}
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

	type segment struct {
		raw   uint32
		n     int64
		alive bool
	}
	var (
		segs      []segment
		live      = map[string]int32{} // key → its segment, or -1 when its latest is > C
		all       = crc32.Update(0, castagnoli, keyBucket)
		suffixRaw uint32
		suffixN   int64
	)
	drop := func(uk []byte) {
		if i, ok := live[string(uk)]; ok && i >= 0 {
			segs[i].alive = false
		}
	}
	c := kb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) < 17 {
			return out, fmt.Errorf("key bucket entry %x is not a revision", k)
		}
		main := revMain(k)
		if main > rev {
			break
		}
		tomb := len(k) == 18 && k[17] == 't'
		uk, err := userKey(v)
		if err != nil {
			return out, fmt.Errorf("revision %d: %w", main, err)
		}
		drop(uk)
		if main <= compact {
			if !(tomb && main == compact) {
				all = crc32.Update(crc32.Update(all, castagnoli, k), castagnoli, v)
			}
			if tomb {
				delete(live, string(uk))
				continue
			}
			segs = append(segs, segment{raw: rawCRC(rawCRC(0, k), v), n: int64(len(k) + len(v)), alive: true})
			live[string(uk)] = int32(len(segs) - 1)
			continue
		}
		suffixRaw = rawCRC(rawCRC(suffixRaw, k), v)
		suffixN += int64(len(k) + len(v))
		if tomb {
			delete(live, string(uk))
		} else {
			live[string(uk)] = -1
		}
	}
	h := all
	if len(live) > 0 { // the keep set is not empty: only kept entries ≤ C count
		h = crc32.Update(0, castagnoli, keyBucket)
		for _, s := range segs {
			if s.alive {
				h = shiftCRC(h, s.n) ^ s.raw
			}
		}
	}
	out.Hash = shiftCRC(h, suffixN) ^ suffixRaw
	return out, nil
}

// revMain is the main revision of a revision key (8 bytes big-endian first); 0 when b
// is too short (a missing meta key).
func revMain(b []byte) int64 {
	if len(b) < 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// rawCRC continues the unconditioned crc32c register s over p.
func rawCRC(s uint32, p []byte) uint32 { return ^crc32.Update(^s, castagnoli, p) }

var zeros = make([]byte, 32<<10)

// shiftCRC is crc32.Update(c, zeros(n)): c as if n more bytes had been hashed, to which
// the raw crc of those bytes is then xored.
func shiftCRC(c uint32, n int64) uint32 {
	for n > 0 {
		m := min(n, int64(len(zeros)))
		c = crc32.Update(c, castagnoli, zeros[:m])
		n -= m
	}
	return c
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
