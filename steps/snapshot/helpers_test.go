package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// fill writes n keys /registry/test/NNNNNN with values of valueSize bytes, 100 per txn.
func fill(t testing.TB, cli *clientv3.Client, n, valueSize int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	val := strings.Repeat("v", valueSize)
	per := min(100, max(1, (1<<20)/(valueSize+32)))
	for i := 0; i < n; i += per {
		var ops []clientv3.Op
		for j := i; j < i+per && j < n; j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("/registry/test/%06d", j), val))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// entries lists a folder's names, for "nothing left behind" assertions.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func assertEmpty(t testing.TB, dir string) {
	t.Helper()
	if names := entries(t, dir); len(names) > 0 {
		t.Fatalf("%s should be empty, holds %v", dir, names)
	}
}

func assertContains(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error containing %q, got nil", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

// assertGoodSnapshot checks what every good save leaves: one 0600 file, no .part.
func assertGoodSnapshot(t testing.TB, dest string, res *Result) {
	t.Helper()
	fi, err := os.Stat(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s has mode %04o, want 0600", res.Path, fi.Mode().Perm())
	}
	if fi.Size() != res.Size {
		t.Fatalf("file is %d bytes, result says %d", fi.Size(), res.Size)
	}
	if names := entries(t, dest); len(names) != 1 || names[0] != filepath.Base(res.Path) {
		t.Fatalf("%s holds %v, want only %s", dest, names, filepath.Base(res.Path))
	}
}
