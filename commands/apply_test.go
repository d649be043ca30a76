package commands

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/ui"
)

func TestConfirm(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "YES\n": true, "n\n": false, "\n": false, "": false, "sure\n": false} {
		var out bytes.Buffer
		got, err := confirm(context.Background(), strings.NewReader(answer), &out, "Apply? ")
		if err != nil || got != want || out.String() != "Apply? " {
			t.Errorf("confirm(%q) = %v, %v (prompt %q); want %v", answer, got, err, out.String(), want)
		}
	}
}

// TestConfirmCtrlC: Ctrl-C at apply's question stops it at once, though the terminal's
// read cannot be interrupted (a pipe nobody writes to here), and so does the Ctrl-C byte.
func TestConfirmCtrlC(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // what fang does on SIGINT
	var out bytes.Buffer
	if ok, err := confirm(ctx, r, &out, "Apply? "); ok || !errors.Is(err, ui.ErrAborted) {
		t.Errorf("confirm after Ctrl-C = %v, %v; want an abort", ok, err)
	}
	if ok, err := confirm(context.Background(), strings.NewReader("y\x03\n"), &out, "Apply? "); ok || !errors.Is(err, ui.ErrAborted) {
		t.Errorf("confirm on the Ctrl-C byte = %v, %v; want an abort", ok, err)
	}
	if !strings.Contains(out.String(), "Interrupted (Ctrl-C): nothing was written.") {
		t.Errorf("output %q", out.String())
	}
}
