package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
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
			// A bbolt page is a header (id 8 bytes, flags 2, count 2, overflow 4; flags 0x02
			// is a leaf) and then count elements of 16 bytes (flags, pos, ksize, vsize; the
			// key is at the element's offset + pos). Raise the first key of every leaf so it
			// sorts after the second: damage bbolt reports (retyping pages makes it panic in
			// a goroutine nobody can recover).
			le := binary.LittleEndian
			for off := 2 * 4096; off+4096 <= len(b)-sha256.Size; off += 4096 {
				if le.Uint16(b[off+8:]) != 0x02 || le.Uint16(b[off+10:]) < 2 {
					continue
				}
				elem := off + 16
				pos, ksize := int(le.Uint32(b[elem+4:])), int(le.Uint32(b[elem+8:]))
				for i := elem + pos; i < elem+pos+ksize && i < off+4096; i++ {
					b[i] = 0xff
				}
			}
			return withTrailer(b)
		}, VerifyBolt, []string{"bbolt found 1 problem(s)", "needs to be >"}},
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
