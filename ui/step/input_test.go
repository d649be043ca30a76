package step

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"charm.land/huh/v2"
)

// question is a form of one line prompt, as the plain driver asks.
func question(v *string) *huh.Form {
	return huh.NewForm(huh.NewGroup(huh.NewInput().Title("Name?").Value(v),
		huh.NewConfirm().Title("Sure?")))
}

func TestAskEndOfInputIsNotAnAnswer(t *testing.T) {
	for _, input := range []string{"", "half a line"} {
		v := "the default"
		var out strings.Builder
		err := Ask(t.Context(), question(&v), strings.NewReader(input), &out)
		if !errors.Is(err, ErrEndOfInput) || err.Error() != "end of input" {
			t.Errorf("input %q: err = %v, want end of input", input, err)
		}
		if strings.Contains(out.String(), "Sure?") {
			t.Errorf("input %q: asked the next question after the input ended:\n%s", input, out.String())
		}
	}
}

func TestAskTakesOnlyItsOwnLines(t *testing.T) {
	in := strings.NewReader("ada\ny\nthe next step's line\n")
	input := NewInput(t.Context(), in)
	var v string
	if err := Ask(t.Context(), question(&v), input, io.Discard); err != nil || v != "ada" {
		t.Fatalf("err %v, value %q", err, v)
	}
	if rest, _ := io.ReadAll(in); string(rest) != "the next step's line\n" {
		t.Errorf("the form read ahead: %q is left", rest)
	}
}

// TestAskCtrlC: Ctrl-C stops a prompt at once, as the signal (the context) or as the
// byte a raw terminal sends; on a pipe, as stdin is in a plain run.
func TestAskCtrlC(t *testing.T) {
	t.Run("signal", func(t *testing.T) {
		r, w := pipe(t)
		ctx, cancel := context.WithCancel(t.Context())
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		var v string
		go func() { done <- Ask(ctx, question(&v), r, outW); outW.Close() }()
		waitFor(t, outR, "Name?")
		cancel() // what fang does on SIGINT
		go io.Copy(io.Discard, outR)
		if err := <-done; !errors.Is(err, ErrInterrupted) {
			t.Fatalf("err = %v, want interrupted", err)
		}
		w.Close()
	})
	t.Run("byte", func(t *testing.T) {
		r, w := pipe(t)
		if _, err := w.Write([]byte("ad\x03a\ny\n")); err != nil {
			t.Fatal(err)
		}
		var v string
		err := Ask(t.Context(), question(&v), r, io.Discard)
		if !errors.Is(err, ErrInterrupted) || err.Error() != "interrupted (Ctrl-C)" {
			t.Fatalf("err = %v, want interrupted", err)
		}
	})
}

func pipe(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// waitFor reads r until it has shown want.
func waitFor(t *testing.T, r io.Reader, want string) {
	t.Helper()
	br := bufio.NewReader(r)
	var seen strings.Builder
	for !strings.Contains(seen.String(), want) {
		b, err := br.ReadByte()
		if err != nil {
			t.Fatalf("%v before %q; seen %q", err, want, seen.String())
		}
		seen.WriteByte(b)
	}
}
