package view

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
)

func TestProgressLogEveryTenth(t *testing.T) {
	var b bytes.Buffer
	report := SnapshotProgress(render.NewProgress(&b, false))
	for _, n := range []int64{1, 5, 12, 13, 55, 99, 100, 132} {
		report(snapshot.Progress{Bytes: n << 20, Total: 100 << 20, Speed: 10 << 20})
	}
	want := `snapshot: 1% 1.0 MiB/100.0 MiB 10.0 MiB/s
snapshot: 12% 12.0 MiB/100.0 MiB 10.0 MiB/s
snapshot: 55% 55.0 MiB/100.0 MiB 10.0 MiB/s
snapshot: 99% 99.0 MiB/100.0 MiB 10.0 MiB/s
snapshot: 100% 100.0 MiB/100.0 MiB 10.0 MiB/s
snapshot: saved; verifying (bbolt consistency and status in one read, then the member's KV hash)
`
	if b.String() != want {
		t.Errorf("log =\n%s\nwant\n%s", b.String(), want)
	}
}

// TestSnapshotProgressLive redraws every report on one line, then says the verification
// runs, with nothing for a log in between.
func TestSnapshotProgressLive(t *testing.T) {
	var b bytes.Buffer
	report := SnapshotProgress(render.NewProgress(&b, true))
	report(snapshot.Progress{Bytes: 45 << 20, Total: 100 << 20, Speed: 20 << 20, ETA: 2750 * time.Millisecond})
	report(snapshot.Progress{Bytes: 46 << 20, Total: 100 << 20})
	report(snapshot.Progress{Bytes: 100 << 20, Total: 100 << 20})
	got := strings.Split(b.String(), "\r\x1b[K")
	want := []string{"", "snapshot: 45% 45.0 MiB/100.0 MiB 20.0 MiB/s about 3s left", "snapshot: 46% 46.0 MiB/100.0 MiB",
		"snapshot: 100% 100.0 MiB/100.0 MiB", "snapshot: saved; verifying (bbolt consistency and status in one read, then the member's KV hash)"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("live line =\n%q\nwant\n%q", got, want)
	}
}

// TestSnapshotProgressUnknownSize writes a line every few seconds when etcd did not say
// how big the snapshot is.
func TestSnapshotProgressUnknownSize(t *testing.T) {
	var b bytes.Buffer
	report := SnapshotProgress(render.NewProgress(&b, false))
	for _, sec := range []int64{0, 1, 4, 5, 9, 10} {
		report(snapshot.Progress{Bytes: sec << 20, Elapsed: time.Duration(sec) * time.Second})
	}
	want := "snapshot: 0 B\nsnapshot: 5.0 MiB\nsnapshot: 10.0 MiB\n"
	if b.String() != want {
		t.Errorf("log =\n%s\nwant\n%s", b.String(), want)
	}
}

// TestSnapshotChecksContentFirst: the comparison with the member is the first line of the
// verification, a "not comparable" one a warning, never a pass.
func TestSnapshotChecksContentFirst(t *testing.T) {
	rep := &snapshot.Report{
		Save: &snapshot.Result{Endpoint: "https://10.0.0.1:2379"},
		Verification: &snapshot.Verification{Steps: []snapshot.Step{
			{Name: snapshot.VerifyTrailer, Status: snapshot.StatusPass, Message: "ok"},
		}},
		Content: &snapshot.Content{Status: snapshot.StatusWarn, Message: "not comparable: revision 9 was compacted"},
	}
	cs := SnapshotChecks(rep)
	if len(cs) != 3 || cs[1].Title != snapshot.VerifyContent || cs[1].Status != render.Warn ||
		!strings.HasPrefix(cs[1].Detail, "not comparable: ") || cs[2].Title != snapshot.VerifyTrailer {
		t.Fatalf("checks %+v: want save, the comparison, then the steps", cs)
	}
}
