package plain

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"github.com/etcd-harden/etcd-harden/internal/fixture"
	"github.com/etcd-harden/etcd-harden/render"
)

func views(width int) map[string]string {
	r := New()
	return map[string]string{
		"header":         r.Header(fixture.Header(), width),
		"facts":          r.Facts(fixture.Facts(), width),
		"checks":         r.Checks(fixture.Checks(), width),
		"diff":           r.Diff(fixture.Diff(), width),
		"error":          r.Error(fixture.Error(), width),
		"error_endpoint": r.Error(fixture.EndpointError(), width),
		"summary":        r.Summary(fixture.Summary(), width),
	}
}

// TestGolden pins every view at 80 and 60 columns and with no limit, and checks that
// none holds an escape code.
func TestGolden(t *testing.T) {
	for _, w := range []int{80, 60, 0} {
		for name, out := range views(w) {
			t.Run(fmt.Sprintf("%s/%d", name, w), func(t *testing.T) {
				if strings.Contains(out, "\x1b") {
					t.Errorf("%s has an escape code: %q", name, out)
				}
				golden.RequireEqual(t, out+"\n")
			})
		}
	}
}

// TestTableGolden pins the table: columns two spaces apart whatever the width, so that
// scripts can cut them, and no escape code.
func TestTableGolden(t *testing.T) {
	for _, w := range []int{80, 0} {
		out := New().Table(fixture.Table(), w)
		if strings.Contains(out, "\x1b") {
			t.Errorf("the table has an escape code: %q", out)
		}
		if w > 0 {
			if want := New().Table(fixture.Table(), 0); out != want {
				t.Errorf("the table at width %d differs from the one with no limit:\n%s", w, out)
			}
			continue
		}
		golden.RequireEqual(t, out+"\n")
	}
}

// TestFitsWidth checks line widths; the diff is raw text and exempt.
func TestFitsWidth(t *testing.T) {
	for _, w := range []int{80, 60, 40} {
		for name, out := range views(w) {
			if name == "diff" {
				continue
			}
			for i, l := range strings.Split(out, "\n") {
				if len([]rune(l)) > w && strings.Contains(strings.TrimSpace(l), " ") {
					t.Errorf("%s at width %d: line %d is too wide: %q", name, w, i+1, l)
				}
			}
		}
	}
}

func TestExactLines(t *testing.T) {
	r := New()
	tests := []struct {
		name, got, want string
	}{
		{"header", r.Header(render.Header{Step: 2, Of: 5, Title: "Certificates"}, 0), "Step 2 of 5: Certificates"},
		{"fact", r.Facts([]render.Fact{{Key: "etcd image", Value: "etcd:3.5"}}, 0), "etcd image: etcd:3.5"},
		{"masked", r.Facts([]render.Fact{{Key: "Key", Value: "c2VjcmV0", Masked: true}}, 0), "Key: (hidden)"},
		{"pass hides fix", r.Checks([]render.Check{{ID: "2.1", Title: "t", Status: render.Pass, Fix: "f"}}, 0), "[PASS] 2.1 t"},
		{"fail", r.Checks([]render.Check{{ID: "2.3", Title: "t", Status: render.Fail, Detail: "d", Fix: "f"}}, 0),
			"[FAIL] 2.3 t\n  d\n  fix: f"},
		{"warn", r.Checks([]render.Check{{ID: "2.2", Title: "t", Status: render.Warn, Fix: "f"}}, 0), "[WARN] 2.2 t\n  fix: f"},
		{"error", r.Error(render.Error{What: "w", Path: "/p", Fix: "f"}, 0), "Error: w\nFile: /p\nWhat to do: f"},
		{"endpoint error", r.Error(render.Error{What: "w", Path: "https://127.0.0.1:2379"}, 0),
			"Error: w\nEndpoint: https://127.0.0.1:2379"},
		{"secret", r.Diff(render.Diff{Files: []render.DiffFile{{Path: "enc.yaml", Mode: "0600", Secret: true, Text: "+secret: x\n"}}}, 0),
			"enc.yaml (mode 0600): secret, content hidden"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, tt.got, tt.want)
		}
	}
}

// TestDiffIsRawText checks that a diff of plain files comes out exactly as given, so
// that it can be piped to patch.
func TestDiffIsRawText(t *testing.T) {
	f := fixture.BigDiff(40)
	if got := New().Diff(render.Diff{Files: []render.DiffFile{f}}, 60); got+"\n" != f.Text {
		t.Errorf("Diff changed the text:\n%s", got)
	}
}

func TestWrapIndentsContinuations(t *testing.T) {
	got := wrap("What to do: choose another file, or let the wizard generate one", 30, "  ")
	want := "What to do: choose another\n  file, or let the wizard\n  generate one"
	if got != want {
		t.Errorf("wrap =\n%s\nwant\n%s", got, want)
	}
}
