package ui

import (
	"context"
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
)

// ShownError is an error the wizard has already shown to the user in its error view;
// main turns it into an exit code without printing it again.
type ShownError struct{ Err error }

func (e *ShownError) Error() string { return e.Err.Error() }
func (e *ShownError) Unwrap() error { return e.Err }

// RunPlain runs the steps without a terminal UI, the way huh runs a form accessibly: the
// same step models, their commands run one after the other on this goroutine, their
// messages fed back to them, and each view printed once with the renderer r.
func RunPlain(ctx context.Context, s *Session, defs []StepDef, r render.Renderer, w io.Writer) error {
	for i, d := range defs {
		step := d.New()
		fmt.Fprintln(w, r.Header(render.Header{Step: i + 1, Of: len(defs), Title: step.Title(), Intro: step.Intro()}, 0))
		var failed *render.Error
		err := drive(ctx, step.Init(s), func(msg tea.Msg) tea.Cmd {
			if e, ok := msg.(ErrorMsg); ok {
				failed = &e.Err
				return nil
			}
			return step.Update(s, msg)
		})
		if err != nil {
			return err
		}
		if failed != nil {
			fmt.Fprintln(w, r.Error(*failed, 0))
			return &ShownError{Err: fmt.Errorf("%s: %s", step.Title(), failed.What)}
		}
		fmt.Fprintln(w, step.View(Frame{R: r}))
		if !step.Ready() {
			return fmt.Errorf("%s did not finish", step.Title())
		}
	}
	return nil
}

// drive runs cmd and every command that follows from it, feeding each message to update,
// until no work is left.
func drive(ctx context.Context, cmd tea.Cmd, update func(tea.Msg) tea.Cmd) error {
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return ErrAborted
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		default:
			queue = append(queue, update(msg))
		}
	}
	return nil
}
