package plan

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkPatch diffs a 4,000-line file where every other line changed (2,000 lines).
func BenchmarkPatch(b *testing.B) {
	root := b.TempDir()
	var old, nw strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&old, "    - --flag-%d=value\n", i)
		if i%2 == 0 {
			fmt.Fprintf(&nw, "    - --flag-%d=changed\n", i)
		} else {
			fmt.Fprintf(&nw, "    - --flag-%d=value\n", i)
		}
	}
	os.WriteFile(filepath.Join(root, "big.yaml"), []byte(old.String()), 0o644)
	p := New(root)
	if err := p.Edit("big.yaml", "bench", func([]byte) ([]byte, error) { return []byte(nw.String()), nil }); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if len(p.Patch()) == 0 {
			b.Fatal("empty patch")
		}
	}
}

// BenchmarkApply applies a 5-file plan (2 replaced, 3 new) with its backup.
func BenchmarkApply(b *testing.B) {
	root := seeded(b)
	backups := filepath.Join(b.TempDir(), "backups")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		os.RemoveAll(root)
		if err := seed(root); err != nil {
			b.Fatal(err)
		}
		p := mustPlan(b, root)
		p.Create("etc/etcd-harden/extra", []byte("x\n"), 0o644, 0o755, false, "bench")
		b.StartTimer()
		if _, err := p.Apply(ApplyOptions{BackupRoot: backups}); err != nil {
			b.Fatal(err)
		}
	}
}
