package manifest

import (
	"slices"
	"strings"
	"testing"
)

// TestDuplicateFlags: a flag given twice is edited where it takes effect (etcd uses
// the last), the other place is removed or changed too, and Notes names both lines.
func TestDuplicateFlags(t *testing.T) {
	const head = "kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n"
	tests := []struct {
		name, src, want, note string
		edit                  func(e *Editor) error
	}{
		{
			name: "set keeps the one that takes effect",
			src:  head + "    - --cert-file=/old/a.crt\n    - --name=cp1\n    - --cert-file=/used/b.crt # this one\n",
			want: head + "    - --name=cp1\n    - --cert-file=/new.crt # this one\n",
			note: "a.yaml gave --cert-file 2 times (--cert-file=/old/a.crt, then --cert-file=/used/b.crt); kept the last, the one that takes effect, and removed the others",
			edit: func(e *Editor) error { return e.SetFlag("", "cert-file", "/new.crt") },
		},
		{
			name: "replace changes every place",
			src:  head + "    - --listen-client-urls=http://10.0.0.1:2379\n    - --name=cp1\n    - --listen-client-urls=http://127.0.0.1:2379\n",
			want: head + "    - --listen-client-urls=https://10.0.0.1:2379\n    - --name=cp1\n    - --listen-client-urls=https://127.0.0.1:2379\n",
			note: "a.yaml gives --listen-client-urls 2 times (--listen-client-urls=http://10.0.0.1:2379, then --listen-client-urls=http://127.0.0.1:2379); replaced http:// with https:// in each",
			edit: func(e *Editor) error {
				_, err := e.ReplaceInFlag("", "listen-client-urls", "http://", "https://")
				return err
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEditor("a.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.edit(e); err != nil {
				t.Fatal(err)
			}
			if got := string(e.Bytes()); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if !slices.Contains(e.Notes(), tc.note) {
				t.Errorf("Notes() = %q, want %q", e.Notes(), tc.note)
			}
		})
	}
}

// TestFlagIsTheOneThatTakesEffect: Flag reads a duplicate flag as etcd does.
func TestFlagIsTheOneThatTakesEffect(t *testing.T) {
	src := "kind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - --name=a\n    - --name\n    - b\n"
	e, err := NewEditor("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := e.Flag("", "name"); v != "b" {
		t.Errorf("Flag(name) = %q, want the last one, b", v)
	}
	if err := e.SetFlag("", "name", "b"); err != nil {
		t.Fatal(err)
	}
	if got := string(e.Bytes()); strings.Contains(got, "--name=a") || !strings.Contains(got, "- --name\n    - b\n") {
		t.Errorf("SetFlag to the value in effect should only drop the unused one:\n%s", got)
	}
}
