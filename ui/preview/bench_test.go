package preview

import (
	"fmt"
	"github.com/etcd-harden/etcd-harden/internal/fixture"
	"testing"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/tui"
)

// benchFiles is a plan with a diff of about 2,000 lines, the three usual files after it.
func benchFiles(b *testing.B) []render.DiffFile {
	files := append([]render.DiffFile{fixture.BigDiff(930)}, planFiles()...)
	m := New(files, tui.Dark())
	m.SetSize(120, 40)
	if n := len(m.body.lines); n < 2000 {
		b.Fatalf("the diff is %d lines, want 2,000 or more", n)
	}
	return files
}

var benchSizes = [][2]int{{120, 40}, {80, 24}}

// BenchmarkView2000 is the cost of one frame: View after New and SetSize.
func BenchmarkView2000(b *testing.B) {
	files := benchFiles(b)
	for _, sz := range benchSizes {
		b.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(b *testing.B) {
			m := New(files, tui.Dark())
			m.SetSize(sz[0], sz[1])
			m = press(m, keyPgDown)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkScroll2000 is a key press and the frame after it.
func BenchmarkScroll2000(b *testing.B) {
	files := benchFiles(b)
	m := New(files, tui.Dark())
	m.SetSize(120, 40)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%40 == 39 {
			m = press(m, keyText("g"))
		}
		m = press(m, keyPgDown)
		_ = m.View()
	}
}

// BenchmarkNew2000 is the setup: New and the first SetSize, which render every line.
func BenchmarkNew2000(b *testing.B) {
	files := benchFiles(b)
	b.ReportAllocs()
	for b.Loop() {
		m := New(files, tui.Dark())
		m.SetSize(120, 40)
	}
}

// BenchmarkResize2000 is a resize to a new width, which wraps every line again.
func BenchmarkResize2000(b *testing.B) {
	files := benchFiles(b)
	m := New(files, tui.Dark())
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.SetSize(110+i%2*10, 40)
	}
}
