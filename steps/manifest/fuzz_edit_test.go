package manifest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Edits FuzzManifestEdit makes; op picks one (modulo their count).
const (
	opSet = iota
	opRemove
	opReplace
	opCount
)

// FuzzManifestEdit makes one flag edit (set, remove, or replace inside the value) on
// an arbitrary manifest. Either the edit fails and leaves the bytes alone, or:
//   - the result parses again, as YAML and as a pod manifest;
//   - the edit is minimal: a line diff changes only lines of the edited flag's items
//     (and their value items), the command:/args: key line, and adds only lines that
//     hold the flag or that key;
//   - the same edit again changes nothing (idempotent);
//   - the flag reads as asked: the value set, or gone, or without the old text.
//
// Seeds: the manifests in testdata/ here and at the top of the repository, and the
// shared corpus when it is there.
func FuzzManifestEdit(f *testing.F) {
	var seeds [][]byte
	for _, glob := range []string{
		filepath.Join("testdata", "*.yaml"),
		filepath.Join("..", "..", "testdata", "manifests", "*", "*.yaml"),
		filepath.Join(corpus, "etcd", "*.yaml"),
		filepath.Join(corpus, "apiserver", "*.yaml"),
	} {
		files, _ := filepath.Glob(glob)
		for _, p := range files {
			if b, err := os.ReadFile(p); err == nil {
				seeds = append(seeds, b)
			}
		}
	}
	edits := []struct {
		op          uint8
		flag, value string
	}{
		{opSet, "cert-file", "/etc/kubernetes/pki/etcd/server.crt"},
		{opSet, "client-cert-auth", "true"},
		{opSet, "name", "- x"},
		{opSet, "data-dir", "a: b # c"},
		{opRemove, "data-dir", ""},
		{opRemove, "client-cert-auth", ""},
		{opReplace, "listen-client-urls", "http://"},
		{opReplace, "etcd-servers", "http://"},
	}
	for i, src := range seeds {
		e := edits[i%len(edits)]
		f.Add(src, e.op, e.flag, e.value)
		e = edits[(i+3)%len(edits)]
		f.Add(src, e.op, e.flag, e.value)
	}
	dup := []byte("kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - --x=http://a\n    - --x\n    - http://b\n    - --x # c\n")
	f.Add(dup, uint8(opReplace), "x", "http://")
	f.Add(dup, uint8(opSet), "x", "-v")
	f.Fuzz(func(t *testing.T, src []byte, op uint8, flag, value string) {
		e, err := NewEditor("f.yaml", src)
		if err != nil {
			return
		}
		name, err := flagName(flag)
		if err != nil {
			return
		}
		allowed, ok := flagLines(src, name)
		if !ok {
			return
		}
		edit := func(e *Editor) error {
			switch op % opCount {
			case opSet:
				return e.SetFlag("", flag, value)
			case opRemove:
				return e.RemoveFlag("", flag)
			default:
				_, err := e.ReplaceInFlag("", flag, value, "Z")
				return err
			}
		}
		if err := edit(e); err != nil {
			if !errors.Is(err, ErrUnsupportedLayout) && !errors.Is(err, ErrInvalidArgument) {
				t.Fatalf("unexpected error: %v", err)
			}
			if !bytes.Equal(e.Bytes(), src) {
				t.Fatal("a failed edit changed the bytes")
			}
			return
		}
		out := e.Bytes()
		var v any
		if err := yaml.Unmarshal(out, &v); err != nil {
			t.Fatalf("the result is not YAML: %v\n%s", err, out)
		}
		again, err := NewEditor("f.yaml", out)
		if err != nil {
			t.Fatalf("the result is not a manifest: %v\n%s", err, out)
		}
		checkMinimal(t, src, out, name, allowed)
		c, _, err := again.p.container("f.yaml", "")
		if err != nil {
			t.Fatal(err)
		}
		left := false // a replace can leave (or make) the old text: "ZZZ" - "ZZ" = "ZZ"
		for _, o := range find(flagLists(c), name) {
			left = left || value != "" && strings.Contains(o.value, value)
		}
		if op%opCount == opReplace && left {
			return
		}
		if err := edit(again); err != nil || !bytes.Equal(again.Bytes(), out) {
			t.Fatalf("the same edit again: %v; changed: %v\nfirst:\n%s\nsecond:\n%s", err, !bytes.Equal(again.Bytes(), out), out, again.Bytes())
		}
		got, present := again.Flag("", name)
		switch op % opCount {
		case opSet:
			if !present || got != value {
				t.Fatalf("after set: Flag = %q, %v; want %q", got, present, value)
			}
		case opRemove:
			if present {
				t.Fatalf("after remove: Flag = %q", got)
			}
		}
	})
}

// flagLines returns the 0-based lines an edit of flag name may change in src: the
// lines of its items (and of a separate value item) and the command: and args: key
// lines of the first container. ok is false when src has no such container.
func flagLines(src []byte, name string) (map[int]bool, bool) {
	p, err := parse("f.yaml", src)
	if err != nil {
		return nil, false
	}
	c, _, err := p.container("f.yaml", "")
	if err != nil {
		return nil, false
	}
	allowed := map[int]bool{}
	for _, key := range listNames {
		if k, _ := lookup(c, key); k != nil {
			allowed[k.Line-1] = true
		}
	}
	lists := flagLists(c)
	mark := func(n *yaml.Node) {
		last := n.Line - 1
		if dash, _, err := p.dashCol(n); err == nil {
			if end, err := p.end(n, dash); err == nil {
				last = p.lineOf(end)
			}
		}
		for i := n.Line - 1; i <= last; i++ {
			allowed[i] = true
		}
	}
	for _, o := range find(lists, name) {
		its := items(lists[o.l])
		mark(its[o.i])
		if o.form == formSep {
			mark(its[o.i+1])
		}
	}
	return allowed, true
}

// checkMinimal fails t unless every line the edit removed or changed is allowed, and
// every line it added holds the flag, its list's key, or replaces an allowed line.
func checkMinimal(t *testing.T, src, out []byte, name string, allowed map[int]bool) {
	t.Helper()
	// A lone \r is a line break to YAML and to the editor, as \r\n is.
	breaks := strings.NewReplacer("\r\n", "\n", "\r", "\n")
	a, b := strings.Split(breaks.Replace(string(src)), "\n"), strings.Split(breaks.Replace(string(out)), "\n")
	if len(a)*len(b) > 4_000_000 {
		return // too big for the quadratic diff; the other properties still hold
	}
	for _, h := range lineDiffHunks(a, b) {
		for _, i := range h.removed {
			if !allowed[i] {
				t.Fatalf("line %d changed, which is not a line of --%s: %q\nbefore:\n%s\nafter:\n%s", i+1, name, a[i], src, out)
			}
		}
		for _, l := range h.added {
			key := strings.TrimSpace(l)
			if len(h.removed) == 0 && !strings.Contains(l, name) && !strings.HasPrefix(key, "command:") && !strings.HasPrefix(key, "args:") {
				t.Fatalf("added line %q holds neither --%s nor its list's key\nbefore:\n%s\nafter:\n%s", l, name, src, out)
			}
		}
	}
}

// hunk is one run of changed lines: old line indexes removed, new lines added.
type hunk struct {
	removed []int
	added   []string
}

// lineDiffHunks diffs two lists of lines by their longest common subsequence.
func lineDiffHunks(a, b []string) []hunk {
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var hunks []hunk
	var cur hunk
	flush := func() {
		if len(cur.removed) > 0 || len(cur.added) > 0 {
			hunks = append(hunks, cur)
		}
		cur = hunk{}
	}
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			flush()
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			cur.added = append(cur.added, b[j])
			j++
		default:
			cur.removed = append(cur.removed, i)
			i++
		}
	}
	flush()
	return hunks
}
