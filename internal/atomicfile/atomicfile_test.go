package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestWriteReplacesWithModeAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f.yaml")
	if err := os.WriteFile(file, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var points []string
	if err := Write(file, []byte("new"), 0o600, Options{Hook: func(p string) { points = append(points, p) }}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil || string(data) != "new" {
		t.Fatalf("read %q, %v; want new", data, err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %04o, want 0600", fi.Mode().Perm())
	}
	if want := []string{"temp", "rename", "synced"}; !slices.Equal(points, want) {
		t.Fatalf("hook points %v, want %v", points, want)
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Fatalf("%s holds %v, want only f.yaml", dir, names)
	}
}

func TestWriteFailedPrepareKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(file, []byte("new"), 0o600, Options{Prepare: func(*os.File) error { return boom }})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), file) {
		t.Fatalf("err %v: want boom naming %s", err, file)
	}
	if data, _ := os.ReadFile(file); string(data) != "old" {
		t.Fatalf("file holds %q, want old", data)
	}
	if names, _ := os.ReadDir(dir); len(names) != 1 {
		t.Fatalf("%s holds %v, want only f", dir, names)
	}
}

func TestRemoveTempsOnlyTouchesTheFilesTemps(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a[1].yaml")
	for _, n := range []string{".a[1].yaml" + TempMark + "123", ".b.yaml" + TempMark + "9", "a[1].yaml"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	RemoveTemps(file)
	var names []string
	des, _ := os.ReadDir(dir)
	for _, d := range des {
		names = append(names, d.Name())
	}
	if want := []string{".b.yaml" + TempMark + "9", "a[1].yaml"}; !slices.Equal(names, want) {
		t.Fatalf("left %v, want %v", names, want)
	}
}
