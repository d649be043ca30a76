package render

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestProgressPlain writes each new report as a line, and one that repeats the line
// before not at all; nothing to clear at Stop.
func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false)
	for _, s := range []string{"one", "two", "two", "three"} {
		p.Say(s)
	}
	p.Stop()
	if got, want := b.String(), "one\ntwo\nthree\n"; got != want {
		t.Errorf("plain = %q, want %q", got, want)
	}
}

// TestProgressPlainTimed puts the seconds since the start ahead of each line.
func TestProgressPlainTimed(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false).Timed()
	p.Say("write: etc/kubernetes/manifests/etcd.yaml: written")
	p.Say("write: etc/kubernetes/manifests/etcd.yaml: written")
	p.Say("done: ")
	p.Stop()
	if !regexp.MustCompile(`^\[  0\.\ds\] write: etc/kubernetes/manifests/etcd\.yaml: written\n\[  0\.\ds\] done: \n$`).MatchString(b.String()) {
		t.Errorf("timed plain = %q", b.String())
	}
}

// TestProgressLive redraws one line in place, cuts a long one, and clears it at Stop.
func TestProgressLive(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true)
	p.Say("snapshot: 45%")
	p.Say("snapshot: 45%") // redrawn all the same: the line is the only trace
	p.Say(strings.Repeat("x", 120))
	p.Stop()
	p.Stop() // twice is harmless
	want := "\r\x1b[Ksnapshot: 45%\r\x1b[Ksnapshot: 45%\r\x1b[K" + strings.Repeat("x", 97) + "...\r\x1b[K"
	if got := b.String(); got != want {
		t.Errorf("live = %q, want %q", got, want)
	}
}

// TestProgressLiveTimed draws a spinner and the seconds ahead of the last report, and
// leaves a clean line at Stop.
func TestProgressLiveTimed(t *testing.T) {
	var b bytes.Buffer // written by the spinner only until Stop returns
	p := NewProgress(&b, true).Timed()
	p.Say("wait-etcd: https://127.0.0.1:2379")
	time.Sleep(300 * time.Millisecond)
	p.Stop()
	out := b.String()
	if !regexp.MustCompile(`^(\r\x1b\[K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]   0\.\ds wait-etcd: https://127\.0\.0\.1:2379)+\r\x1b\[K$`).MatchString(out) {
		t.Errorf("live timed = %q", out)
	}
}
