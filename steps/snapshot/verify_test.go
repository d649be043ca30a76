package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
)

func TestVerifyDamagedSnapshots(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	fill(t, srv.Client(t), 500, 200)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Save(ctx, srv.ClientConfig(t), t.TempDir(), "good", nil)
	if err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	// withTrailer rewrites the sha256 trailer so that only the later steps can catch the damage.
	withTrailer := func(b []byte) []byte {
		body := b[:len(b)-sha256.Size]
		sum := sha256.Sum256(body)
		return append(body, sum[:]...)
	}
	tests := []struct {
		name   string
		damage func([]byte) []byte
		step   string
		want   []string
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)-1000] }, VerifyTrailer,
			[]string{"is not a saved snapshot's (size % 512 is", "the file is truncated"}},
		{"truncated by a whole page", func(b []byte) []byte { return b[:len(b)-4096] }, VerifyTrailer,
			[]string{"the trailer says", "changed or damaged after etcd wrote it"}},
		{"one bit flipped", func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b }, VerifyTrailer,
			[]string{"the trailer says", "changed or damaged after etcd wrote it"}},
		{"bbolt keys out of order, trailer rewritten", func(b []byte) []byte {
			// Raise the first key of every leaf of etcd's key bucket so it sorts after
			// the second: damage bbolt reports. Leaves of other buckets are left alone:
			// a renamed bucket sends bbolt after pointers it then faults on.
			forEachPage(b, func(off int, flags, count uint16) {
				if flags != leafPage || count < 2 {
					return
				}
				elem := off + pageHeader
				pos, ksize := int(le.Uint32(b[elem+4:])), int(le.Uint32(b[elem+8:]))
				key := elem + pos
				if ksize != 17 || key+ksize > off+pageSize || b[key+8] != '_' { // a revision: main, '_', sub
					return
				}
				for i := key; i < key+ksize; i++ {
					b[i] = 0xff
				}
			})
			return withTrailer(b)
		}, VerifyBolt, []string{"bbolt found ", " problem(s): key[", "on leaf page", "needs to be"}},
		{"bbolt branch points past the end, trailer rewritten", func(b []byte) []byte {
			// Point every child of every branch page 64 TiB past the start of the file:
			// bbolt reads the page header there and faults (SIGSEGV), which kills the
			// process that runs the check. It must be reported, not fatal to Verify.
			forEachPage(b, func(off int, flags, count uint16) {
				if flags != branchPage {
					return
				}
				for i := range int(count) {
					le.PutUint64(b[off+pageHeader+i*16+8:], 1<<34)
				}
			})
			return withTrailer(b)
		}, VerifyBolt, []string{"bbolt crashed while checking it", "fatal error: fault", "SIGSEGV", "go.etcd.io/bbolt"}},
		{"not a snapshot at all", func(b []byte) []byte {
			junk := make([]byte, 8192)
			return withTrailer(append(junk, make([]byte, sha256.Size)...))
		}, VerifyBolt, []string{"bbolt cannot open it"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "snap.db")
			if err := os.WriteFile(path, tc.damage(append([]byte(nil), good...)), 0o600); err != nil {
				t.Fatal(err)
			}
			v, err := Verify(ctx, path)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("want ErrCorrupt, got %v", err)
			}
			assertContains(t, err, append([]string{"SNAPSHOT " + path + " FAILED", "moved it aside to " + path + CorruptSuffix, "do not restore from it"}, tc.want...)...)
			if v == nil || v.OK || v.CorruptPath != path+CorruptSuffix {
				t.Fatalf("verification %+v", v)
			}
			if crashed := strings.Contains(tc.want[0], "crashed"); errors.Is(err, ErrCrashed) != crashed {
				t.Fatalf("errors.Is(err, ErrCrashed) = %v, want %v", !crashed, crashed)
			}
			last := v.Steps[len(v.Steps)-1]
			if last.Name != tc.step || last.Status != StatusFail {
				t.Fatalf("last step %+v, want %s failed", last, tc.step)
			}
			if names := entries(t, dir); len(names) != 1 || names[0] != "snap.db"+CorruptSuffix {
				t.Fatalf("folder holds %v, want only snap.db.corrupt", names)
			}
			t.Log(err)
		})
	}
	t.Run("good snapshot after the crash", func(t *testing.T) {
		v, err := VerifyWith(ctx, res.Path, VerifyOptions{Rehearse: true})
		if err != nil || !v.OK || len(v.Steps) != 4 || v.TotalKeys != 500 || v.RestoredKeys != 500 {
			t.Fatalf("verification %+v: %v", v, err)
		}
	})
	t.Run("a rehearsing child limits its memory", func(t *testing.T) {
		st, err := os.Stat(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name     string
			rehearse bool
			env      string
			want     int64
		}{
			{"rehearsal", true, "", rehearsalMemoryLimit(st.Size())},
			{"inspection alone", false, "", math.MaxInt64},
			{"the user's GOMEMLIMIT wins", true, "GOMEMLIMIT=200MiB", 200 << 20},
		} {
			t.Run(tc.name, func(t *testing.T) {
				file := filepath.Join(t.TempDir(), "limit")
				v, err := VerifyWith(ctx, res.Path, VerifyOptions{Rehearse: tc.rehearse, Command: limitCommand(file, tc.env)})
				if err != nil || !v.OK {
					t.Fatalf("verification %+v: %v", v, err)
				}
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				if got, _ := strconv.ParseInt(string(b), 10, 64); got != tc.want {
					t.Fatalf("the child's memory limit is %d, want %d", got, tc.want)
				}
			})
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Verify(ctx, filepath.Join(t.TempDir(), "nope.db"))
		assertContains(t, err, "nope.db", "no such file", "pass the path of a saved snapshot")
		if errors.Is(err, ErrCorrupt) {
			t.Fatal("a missing file is not corrupt")
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		ccancel()
		_, err := Verify(cctx, res.Path)
		assertContains(t, err, "stopped before", "the file was left as it is")
		if _, serr := os.Stat(res.Path); serr != nil {
			t.Fatal("a cancelled verify must not move the snapshot")
		}
	})
}

// The bbolt page layout the damage cases edit: a page is a header (id 8 bytes, flags 2,
// count 2, overflow 4) and then count elements of 16 bytes. A leaf element is flags, pos,
// ksize, vsize (uint32 each; the key is at the element's offset + pos); a branch element
// is pos, ksize (uint32) and the child's page id (uint64).
const (
	pageSize   = 4096
	pageHeader = 16
	branchPage = 0x01
	leafPage   = 0x02
)

var le = binary.LittleEndian

// forEachPage calls fn for every page of a snapshot after the two meta pages whose
// header names its own id, skipping overflow pages, which hold data, not headers.
func forEachPage(b []byte, fn func(off int, flags, count uint16)) {
	end := len(b) - sha256.Size
	for id := 2; (id+1)*pageSize <= end; id++ {
		off := id * pageSize
		if le.Uint64(b[off:]) != uint64(id) {
			continue
		}
		flags, count, overflow := le.Uint16(b[off+8:]), le.Uint16(b[off+10:]), le.Uint32(b[off+12:])
		if pageHeader+int(count)*16 <= pageSize {
			fn(off, flags, count)
		}
		id += int(overflow)
	}
}
