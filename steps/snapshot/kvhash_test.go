package snapshot

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"
	etcdutl "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// history writes puts, updates, deletes (one exactly at the compact revision, one key
// deleted and written again), compacts, then updates and deletes keys that lived through
// the compaction. It returns the compact revision.
func history(t testing.TB, cli *clientv3.Client) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	put := func(k, v string) int64 {
		r, err := cli.Put(ctx, k, v)
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	del := func(k string) int64 {
		r, err := cli.Delete(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		return r.Header.Revision
	}
	for i := range 20 {
		put(fmt.Sprintf("/registry/k%02d", i), strings.Repeat("a", 10+i))
	}
	for i := range 10 {
		put(fmt.Sprintf("/registry/k%02d", i), "updated")
	}
	del("/registry/k03")
	del("/registry/k04")
	put("/registry/k04", "again")
	put("/registry/k05", "third")
	compact := del("/registry/k06") // a tombstone at the compact revision
	if _, err := cli.Compact(ctx, compact, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	put("/registry/k07", "after the compaction")
	put("/registry/k12", "after the compaction")
	del("/registry/k13")
	put("/registry/k03", "back")
	put("/registry/new", "new")
	return compact
}

func memberHash(t testing.TB, cli *clientv3.Client, endpoint string, rev int64) (uint32, int64) {
	t.Helper()
	r, err := cli.HashKV(context.Background(), endpoint, rev)
	if err != nil {
		t.Fatalf("HashKV at %d: %v", rev, err)
	}
	return r.Hash, r.CompactRevision
}

// assertSameHashes saves a snapshot and checks that HashFile equals the member's HashKV
// at the snapshot's revision and at every older revision down to the compact revision.
func assertSameHashes(t *testing.T, cli *clientv3.Client, cfg clientv3.Config, endpoint string, compact int64) *Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := Save(ctx, cfg, t.TempDir(), "snap", nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := HashFile(res.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if kv.CompactRevision != compact {
		t.Fatalf("compact revision %d, want %d", kv.CompactRevision, compact)
	}
	assertKeyCount(t, res.Path, kv)
	for rev := kv.Revision; rev >= compact; rev-- {
		at, err := HashFile(res.Path, rev)
		if err != nil {
			t.Fatal(err)
		}
		if rev == compact {
			// At the compact revision etcd 3.4 refuses to hash (compacted), and etcd ≥ 3.5
			// answers with the hash it stored while compacting, taken with the compaction
			// before: either is not comparable, never a pass on different data.
			c := CompareContent(ctx, endpoint, at, MemberHashKV(cfg))
			if c.Status == StatusFail || (c.Status == StatusWarn && !strings.Contains(c.Reason, "compact")) {
				t.Fatalf("at the compact revision: %+v, want identical or not comparable", c)
			}
			t.Logf("at the compact revision %d: %s", rev, c.Message)
			continue
		}
		want, wantCompact := memberHash(t, cli, endpoint, rev)
		if at.Hash != want || wantCompact != compact {
			t.Fatalf("revision %d: file hash %d (compact %d), member %d (compact %d)", rev, at.Hash, compact, want, wantCompact)
		}
	}
	if _, err := HashFile(res.Path, compact-1); err == nil {
		t.Fatal("a revision below the compact revision was hashed")
	}
	c := CompareContent(ctx, endpoint, kv, MemberHashKV(cfg))
	if c.Status != StatusPass || !strings.HasPrefix(c.Message, "identical to "+endpoint+fmt.Sprintf(" at revision %d", kv.Revision)) {
		t.Fatalf("comparison %+v, want identical", c)
	}
	t.Logf("revision %d, compact %d, hash %d", kv.Revision, compact, kv.Hash)
	return res
}

func TestHashFileEqualsHashKV(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{})
	cli := srv.Client(t)
	compact := history(t, cli)
	cfg := srv.ClientConfig(t)
	res := assertSameHashes(t, cli, cfg, srv.Endpoint, compact)
	ctx := context.Background()
	kv, err := HashFile(res.Path, 0)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("tampered value", func(t *testing.T) {
		bad := tamper(t, res.Path)
		tk, err := HashFile(bad, 0)
		if err != nil {
			t.Fatal(err)
		}
		c := CompareContent(ctx, srv.Endpoint, tk, MemberHashKV(cfg))
		if c.Status != StatusFail || !strings.Contains(c.Message, "does not hold the member's data") {
			t.Fatalf("a tampered snapshot gave %+v, want a mismatch", c)
		}
	})

	t.Run("no hash", func(t *testing.T) {
		if c := CompareContent(ctx, srv.Endpoint, nil, MemberHashKV(cfg)); c.Status != StatusWarn {
			t.Fatalf("%+v, want not comparable", c)
		}
	})

	t.Run("member errors", func(t *testing.T) {
		failing := func(context.Context, int64) (uint32, int64, error) { return 0, 0, fmt.Errorf("boom") }
		c := CompareContent(ctx, srv.Endpoint, kv, failing)
		if c.Status != StatusWarn || !strings.HasPrefix(c.Message, "not comparable: ") || !strings.Contains(c.Reason, "boom") {
			t.Fatalf("%+v, want not comparable", c)
		}
	})

	t.Run("compacted after the save", func(t *testing.T) {
		// A member that hashed with another compact revision.
		other := func(context.Context, int64) (uint32, int64, error) { return kv.Hash, kv.Revision, nil }
		c := CompareContent(ctx, srv.Endpoint, kv, other)
		if c.Status != StatusWarn || !strings.Contains(c.Reason, "compact revision") {
			t.Fatalf("another compact revision gave %+v, want not comparable", c)
		}
		// Compacted beyond the snapshot's revision: the member cannot hash there at all.
		// (A compaction exactly at it stays comparable on etcd ≥ 3.5: the member keeps the
		// hash it took while compacting, with the compact revision before.)
		r, err := cli.Put(ctx, "/registry/later", "y")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Compact(ctx, r.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
			t.Fatal(err)
		}
		c = CompareContent(ctx, srv.Endpoint, kv, MemberHashKV(cfg))
		if c.Status != StatusWarn || !strings.Contains(c.Reason, "no longer hashes") {
			t.Fatalf("%+v, want not comparable", c)
		}
	})
}

func TestHashFileNeverCompacted(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{})
	cli := srv.Client(t)
	fill(t, cli, 300, 50)
	if _, err := cli.Delete(context.Background(), "/registry/test/000007"); err != nil {
		t.Fatal(err)
	}
	kvs := assertSameHashesNoCompact(t, cli, srv)
	if kvs.CompactRevision != 0 {
		t.Fatalf("compact revision %d, want 0", kvs.CompactRevision)
	}
}

func assertSameHashesNoCompact(t *testing.T, cli *clientv3.Client, srv *testetcd.Server) *KVHash {
	t.Helper()
	res, err := Save(context.Background(), srv.ClientConfig(t), t.TempDir(), "snap", nil)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := HashFile(res.Path, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := memberHash(t, cli, srv.Endpoint, kv.Revision); want != kv.Hash {
		t.Fatalf("file hash %d, member %d", kv.Hash, want)
	}
	assertKeyCount(t, res.Path, kv)
	return kv
}

// TestHashFileEmptyKeep: every key deleted before the end, so etcd's keep set is empty
// and every revision below the compaction counts.
func TestHashFileEmptyKeep(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{})
	cli := srv.Client(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := cli.Put(ctx, fmt.Sprintf("k%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	r, err := cli.Delete(ctx, "k", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "z", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, r.Header.Revision-1); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Delete(ctx, "z"); err != nil {
		t.Fatal(err)
	}
	assertSameHashes(t, cli, srv.ClientConfig(t), srv.Endpoint, r.Header.Revision-1)
}

// TestTestReportsContent: `snapshot test` (and the wizard, through Job.Run) shows the
// comparison.
func TestTestReportsContent(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	history(t, srv.Client(t))
	rep, err := Test(context.Background(), TestOptions{Client: srv.ClientConfig(t), Dest: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Content
	if c == nil || c.Status != StatusPass || c.Revision != rep.Verification.Revision || !strings.HasPrefix(c.Message, "identical to "+srv.Endpoint) {
		t.Fatalf("content %+v", c)
	}
}

// tamper copies the snapshot and changes the last byte of the newest live value.
func tamper(t *testing.T, path string) string {
	t.Helper()
	bad := filepath.Join(t.TempDir(), "tampered.db")
	in, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(bad, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("key"))
		c := b.Cursor()
		for k, v := c.Last(); k != nil; k, v = c.Prev() {
			if len(k) == 17 && len(v) > 0 {
				nv := append([]byte(nil), v...)
				nv[len(nv)-1] ^= 0x01
				return b.Put(append([]byte(nil), k...), nv)
			}
		}
		return fmt.Errorf("no value to tamper with")
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// assertKeyCount checks the live key count of the one pass against etcdutl's Status,
// which keeps a set of every key to count them.
func assertKeyCount(t *testing.T, path string, kv *KVHash) {
	t.Helper()
	st, err := etcdutl.NewV3(zap.NewNop()).Status(path)
	if err != nil {
		t.Fatal(err)
	}
	if kv.LiveKeys != st.TotalKey || kv.Revision != st.Revision {
		t.Fatalf("one pass counted %d keys at revision %d, etcdutl's status %d at %d", kv.LiveKeys, kv.Revision, st.TotalKey, st.Revision)
	}
}
