package text

import (
	"reflect"
	"testing"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		name        string
		s           string
		first, rest int
		want        []string
	}{
		{"empty", "", 10, 10, nil},
		{"no limit", "a b c", 0, 0, []string{"a b c"}},
		{"fits", "a b c", 5, 5, []string{"a b c"}},
		{"two lines", "add --client-cert-auth=true and --trusted-ca-file", 30, 30,
			[]string{"add --client-cert-auth=true", "and --trusted-ca-file"}},
		{"narrower rest", "one two three four", 9, 5, []string{"one two", "three", "four"}},
		{"long word whole", "in /var/lib/etcd-harden/backup/x now", 10, 10,
			[]string{"in", "/var/lib/etcd-harden/backup/x", "now"}},
		{"wide runes", "●●●● ●●●●", 5, 5, []string{"●●●●", "●●●●"}},
		{"spaces collapse", "a   b", 2, 2, []string{"a", "b"}},
	}
	for _, tt := range tests {
		if got := Wrap(tt.s, tt.first, tt.rest); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Wrap(%q, %d, %d) = %q, want %q", tt.name, tt.s, tt.first, tt.rest, got, tt.want)
		}
	}
}
