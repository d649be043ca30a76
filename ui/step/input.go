package step

import (
	"context"
	"errors"
	"fmt"
	"io"

	"charm.land/huh/v2"
)

// Why a plain run stopped asking: the plain driver turns both into an abort (exit 130),
// never into the prompt's default.
var (
	// ErrEndOfInput is the input ending (a closed pipe, </dev/null, Ctrl-D) before a
	// question was answered.
	ErrEndOfInput = errors.New("end of input")
	// ErrInterrupted is Ctrl-C: the run's context was cancelled (SIGINT), or the byte
	// Ctrl-C sends (0x03) was read from a terminal in raw mode.
	ErrInterrupted = errors.New("interrupted (Ctrl-C)")
)

// ctrlC is the byte a terminal in raw mode sends for Ctrl-C.
const ctrlC = 0x03

// Input is the plain driver's input: it hands its reader over one byte at a time (huh's
// accessible mode reads each answer with a new bufio.Scanner, which would otherwise
// swallow the answers to the questions after it), and it stops at end of input and at
// Ctrl-C. huh's accessible prompts cannot be cancelled and take their default at end of
// input; Input answers their reads with io.EOF from then on, so the form finishes at
// once, and Err says why, so the driver aborts instead of acting on those defaults.
type Input struct {
	ctx context.Context
	r   io.Reader
	// One goroutine reads r, a byte per request, so a read blocked on a terminal can be
	// left behind at Ctrl-C, and no byte is read ahead of the prompt that needs it.
	reqs    chan struct{}
	bytes   chan readResult
	pending bool  // a request is out
	err     error // why the input stopped (sticky)
}

type readResult struct {
	b   byte
	err error
}

// NewInput reads r until ctx is cancelled. A read of r still blocked then is left
// behind: the process is about to exit, and a terminal's read cannot be interrupted.
func NewInput(ctx context.Context, r io.Reader) *Input {
	return &Input{ctx: ctx, r: r}
}

// InputOf returns r if it is an *Input already, else a new Input over r.
func InputOf(ctx context.Context, r io.Reader) *Input {
	if in, ok := r.(*Input); ok {
		return in
	}
	return NewInput(ctx, r)
}

// Read implements io.Reader: one byte, or io.EOF once the input has stopped.
func (in *Input) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if in.Err() != nil {
		return 0, io.EOF
	}
	if !in.pending {
		if in.reqs == nil {
			in.reqs, in.bytes = make(chan struct{}, 1), make(chan readResult, 1)
			go in.pump()
		}
		in.reqs <- struct{}{}
		in.pending = true
	}
	select {
	case <-in.ctx.Done():
		in.stop(ErrInterrupted)
		return 0, io.EOF
	case res := <-in.bytes:
		in.pending = false
		switch {
		case errors.Is(res.err, io.EOF):
			in.stop(ErrEndOfInput)
			return 0, io.EOF
		case res.err != nil:
			in.stop(fmt.Errorf("%w: reading the answers: %w", ErrEndOfInput, res.err))
			return 0, io.EOF
		case res.b == ctrlC:
			in.stop(ErrInterrupted)
			return 0, io.EOF
		}
		p[0] = res.b
		return 1, nil
	}
}

// stop records why the input stopped and lets the reading goroutine end.
func (in *Input) stop(why error) {
	if in.err != nil {
		return
	}
	in.err = why
	if in.reqs != nil {
		close(in.reqs)
	}
}

// pump reads one byte of r per request, until the requests end.
func (in *Input) pump() {
	var b [1]byte
	var failed error
	if in.r == nil {
		failed = io.EOF // no input at all: as if it had ended
	}
	for range in.reqs {
		for {
			if failed != nil {
				in.bytes <- readResult{err: failed}
				break
			}
			n, err := in.r.Read(b[:])
			failed = err
			if n == 1 {
				in.bytes <- readResult{b: b[0]}
				break
			}
		}
	}
}

// Err says why the input stopped (ErrEndOfInput or ErrInterrupted, possibly wrapped),
// or nil while it has not.
func (in *Input) Err() error {
	if in.err == nil && in.ctx.Err() != nil {
		in.stop(ErrInterrupted)
	}
	return in.err
}

// Ask runs f as line prompts (huh's accessible mode) on in and out. It returns an error
// wrapping ErrEndOfInput or ErrInterrupted when the input ended or Ctrl-C came before
// every question was answered: what the form holds then is defaults, never answers, and
// the caller must not act on them.
func Ask(ctx context.Context, f *huh.Form, in io.Reader, out io.Writer) error {
	input := InputOf(ctx, in)
	err := f.WithAccessible(true).WithTheme(huh.ThemeFunc(huh.ThemeBase)).
		WithInput(input).WithOutput(untilStopped{input, out}).RunWithContext(ctx)
	if ierr := input.Err(); ierr != nil {
		return ierr
	}
	if errors.Is(err, huh.ErrUserAborted) {
		return ErrInterrupted
	}
	return err
}

// untilStopped writes to w until the input stops: huh goes on through the form's
// remaining questions, which are not asked.
type untilStopped struct {
	in *Input
	w  io.Writer
}

func (u untilStopped) Write(p []byte) (int, error) {
	if u.in.err != nil {
		return len(p), nil
	}
	return u.w.Write(p)
}
