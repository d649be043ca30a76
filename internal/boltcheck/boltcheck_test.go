package boltcheck

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// makeDB writes a real bbolt file: a large bucket (branch pages), values bigger than a
// page (overflow pages), nested buckets, inline buckets, an empty bucket, and deletes
// that leave free pages. sync says whether bbolt writes its freelist (etcd does not).
func makeDB(t testing.TB, sync bool) (string, int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: !sync})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	big := bytes.Repeat([]byte("v"), 10_000)
	err = db.Update(func(tx *bolt.Tx) error {
		key, err := tx.CreateBucket([]byte("key"))
		if err != nil {
			return err
		}
		for i := range 5000 {
			if err := key.Put(fmt.Appendf(nil, "%08d", i), bytes.Repeat([]byte{byte(i)}, 100)); err != nil {
				return err
			}
		}
		for i := range 20 {
			if err := key.Put(fmt.Appendf(nil, "big-%02d", i), big); err != nil {
				return err
			}
		}
		outer, err := tx.CreateBucket([]byte("outer"))
		if err != nil {
			return err
		}
		inner, err := outer.CreateBucket([]byte("inner"))
		if err != nil {
			return err
		}
		for i := range 300 {
			if err := inner.Put(fmt.Appendf(nil, "k%04d", i), bytes.Repeat([]byte("i"), 50)); err != nil {
				return err
			}
		}
		small, err := outer.CreateBucket([]byte("small")) // stays inline
		if err != nil {
			return err
		}
		if err := small.Put([]byte("a"), []byte("1")); err != nil {
			return err
		}
		_, err = tx.CreateBucket([]byte("empty"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { // free some pages
		b := tx.Bucket([]byte("key"))
		for i := range 2000 {
			if err := b.Delete(fmt.Appendf(nil, "%08d", i)); err != nil {
				return err
			}
		}
		return b.Delete([]byte("big-03"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return path, db.Info().PageSize
}

// boltSays is bbolt's own verdict on the file.
func boltSays(t *testing.T, path string) []string {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var out []string
	err = db.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			out = append(out, e.Error())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSoundFiles(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("freelist synced %v", sync), func(t *testing.T) {
			path, ps := makeDB(t, sync)
			res, err := File(path, ps)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 0 || res.Found != 0 {
				t.Fatalf("problems in a sound file: %v", res.Problems)
			}
			if bolt := boltSays(t, path); len(bolt) != 0 {
				t.Fatalf("bbolt disagrees: %v", bolt)
			}
			if res.FreelistSynced != sync || res.Pages < 100 || res.Reached >= res.Pages || res.Reached < res.Pages/4 {
				t.Fatalf("result %+v", res)
			}
			// Unmapping what was read every few pages reads the same file the same way.
			defer func(n int) { releaseEvery = n }(releaseEvery)
			releaseEvery = 3
			again, err := File(path, ps)
			if err != nil || again.Found != 0 || again.Reached != res.Reached {
				t.Fatalf("with releases every 3 pages: %+v, %v; without: %+v", again, err, res)
			}
		})
	}
}

// page is a view of one page of a file's bytes, for damaging it.
type page struct {
	id           uint64
	flags, count uint16
	off          int
	overflow     uint32
	elems        func(i int) []byte
	key          func(i int) []byte
}

// pages are the pages of the tree, the meta pages and the freelist of a sound file:
// free pages keep stale content that no check reads.
func pages(b []byte, ps int) []page {
	c := newChecker(b, ps)
	c.run()
	var out []page
	for off := 0; off+ps <= len(b); off += ps {
		if uint64(off/ps) >= c.hwm || !c.reached.has(uint64(off/ps)) {
			continue
		}
		p := page{off: off, id: native.Uint64(b[off:]), flags: native.Uint16(b[off+8:]),
			count: native.Uint16(b[off+10:]), overflow: native.Uint32(b[off+12:])}
		if int(p.id)*ps != off {
			continue // the inside of an overflow run, or free
		}
		p.elems = func(i int) []byte { return b[off+pageHeader+i*elementSize:] }
		p.key = func(i int) []byte {
			e := p.elems(i)
			start := off + pageHeader + i*elementSize + int(native.Uint32(e[4:]))
			if p.flags == branchPage {
				start = off + pageHeader + i*elementSize + int(native.Uint32(e))
				return b[start : start+int(native.Uint32(e[4:]))]
			}
			return b[start : start+int(native.Uint32(e[8:]))]
		}
		out = append(out, p)
	}
	return out
}

// checkBytes checks a bbolt file held in memory.
func checkBytes(b []byte, ps int) *Result {
	c := newChecker(b, ps)
	c.run()
	return c.res
}

// firstPage is the first page of pages(b, ps) that match accepts; the test fails when
// none does (what names the page it looked for).
func firstPage(t *testing.T, b []byte, ps int, what string, match func(page) bool) page {
	t.Helper()
	for _, p := range pages(b, ps) {
		if match(p) {
			return p
		}
	}
	t.Fatalf("no %s to damage", what)
	return page{}
}

func TestDamage(t *testing.T) {
	tests := []struct {
		name   string
		sync   bool
		damage func(t *testing.T, b []byte, ps int)
		want   string
	}{
		{"keys out of order", false, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a leaf of 8-byte keys", func(p page) bool {
				if p.flags != leafPage || p.count <= 2 {
					return false
				}
				k := p.key(0)
				return len(k) == 8 && k[0] == '0'
			})
			copy(p.key(0), "99999999")
		}, "needs to be > (found <) than previous element"},
		{"a branch pointing past the end", false, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a branch", func(p page) bool { return p.flags == branchPage })
			native.PutUint64(p.elems(0)[8:], 1<<34)
		}, "out of bounds"},
		{"a branch pointing at itself", false, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a branch", func(p page) bool { return p.flags == branchPage })
			native.PutUint64(p.elems(1)[8:], p.id)
		}, "multiple references"},
		{"a page that names another", false, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a leaf", func(p page) bool { return p.flags == leafPage && p.id > 3 })
			native.PutUint64(b[p.off:], p.id+1)
		}, "self identifies as"},
		{"an element past its page", false, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a leaf of one page", func(p page) bool {
				return p.flags == leafPage && p.overflow == 0 && p.count > 2
			})
			native.PutUint32(p.elems(1)[4:], 1<<30)
		}, "runs past the page"},
		{"a page of no known type", false, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a leaf", func(p page) bool { return p.flags == leafPage && p.id > 3 })
			native.PutUint16(b[p.off+8:], 0x40)
		}, "invalid type: 0x40"},
		{"both meta pages broken", false, func(t *testing.T, b []byte, ps int) {
			b[pageHeader+20] ^= 1
			b[ps+pageHeader+20] ^= 1
		}, "checksum does not match"},
		{"a page freed twice", true, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a freelist with two ids", func(p page) bool {
				return p.flags == freelistPage && p.count >= 2 && p.count < 0xFFFF
			})
			ids := b[p.off+pageHeader:]
			copy(ids[8:16], ids[0:8])
		}, "already freed"},
		{"a free page the freelist forgot", true, func(t *testing.T, b []byte, ps int) {
			p := firstPage(t, b, ps, "a freelist", func(p page) bool {
				return p.flags == freelistPage && p.count >= 1 && p.count < 0xFFFF
			})
			native.PutUint16(b[p.off+10:], p.count-1)
		}, "unreachable unfreed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, ps := makeDB(t, tc.sync)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(t, b, ps)
			res := checkBytes(b, ps)
			if res.Found == 0 || !strings.Contains(strings.Join(res.Problems, "\n"), tc.want) {
				t.Fatalf("want a problem with %q, got %v", tc.want, res.Problems)
			}
		})
	}
}

// TestNeverFaults flips random bytes of a real file and checks that every damage is
// read without a panic: the checker reads nothing it has not bounds-checked.
func TestNeverFaults(t *testing.T) {
	for _, sync := range []bool{false, true} {
		path, ps := makeDB(t, sync)
		good, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(1, 2))
		b := make([]byte, len(good))
		for range 300 {
			copy(b, good)
			for range 1 + r.IntN(20) {
				i := r.IntN(len(b))
				if r.IntN(2) == 0 {
					b[i] = byte(r.Uint32())
				} else if i+8 <= len(b) {
					binary.NativeEndian.PutUint64(b[i:], r.Uint64N(1<<40))
				}
			}
			_ = checkBytes(b, ps)
		}
	}
}

func TestEmptyAndShortFiles(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := File(empty, 4096); err != nil || res.Problems[0] != "the file is empty" {
		t.Fatalf("%+v %v", res, err)
	}
	if res := checkBytes(make([]byte, 4100), 4096); !strings.Contains(res.Problems[0], "shorter than its two meta pages") {
		t.Fatalf("%+v", res)
	}
	if res := checkBytes(make([]byte, 8192), 4096); !strings.Contains(res.Problems[0], "not a bbolt meta page") {
		t.Fatalf("%+v", res)
	}
	if _, err := File(filepath.Join(dir, "missing"), 4096); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
}
