package ui

import (
	"context"
	"errors"
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// ShownError is an error the wizard has already shown to the user in its error view;
// main turns it into an exit code without printing it again.
type ShownError struct{ Err error }

func (e *ShownError) Error() string { return e.Err.Error() }
func (e *ShownError) Unwrap() error { return e.Err }

// Plain runs the steps without a terminal UI, the way huh runs a form accessibly: the
// same step models, their commands run one after the other on this goroutine, their
// messages fed back to them, their forms asked as line prompts, and each view printed
// once with the renderer R.
type Plain struct {
	R   render.Renderer
	In  io.Reader
	Out io.Writer
}

// Run runs every step in order.
func (p Plain) Run(ctx context.Context, s *step.Session, defs []step.Def) error {
	for i, d := range defs {
		st := d.New()
		fmt.Fprintln(p.Out, p.R.Header(render.Header{Step: i + 1, Of: len(defs), Title: st.Title(), Intro: st.Intro()}, 0))
		if err := p.runStep(ctx, s, st); err != nil {
			return err
		}
		fmt.Fprintln(p.Out)
	}
	return nil
}

func (p Plain) runStep(ctx context.Context, s *step.Session, st step.Step) (err error) {
	if c, ok := st.(step.Canceler); ok {
		// Stopped half way (Ctrl-C): the step's work stops cleanly before we return.
		defer func() {
			if err != nil {
				c.Cancel()
			}
		}()
	}
	var failed *render.Error
	update := func(msg tea.Msg) tea.Cmd {
		if e, ok := msg.(step.ErrorMsg); ok {
			failed = &e.Err
			return nil
		}
		return st.Update(s, msg)
	}
	if err := drive(ctx, st.Init(s), update); err != nil {
		return err
	}
	if asker, ok := st.(step.Prompter); ok && failed == nil {
		// What the step found comes before its questions (the diff before "apply?").
		if pv, ok := st.(step.Previewer); ok {
			fmt.Fprintln(p.Out, pv.Preview(step.Frame{R: p.R}))
		}
		if form := asker.Form(s); form != nil {
			err := form.WithAccessible(true).WithTheme(huh.ThemeFunc(huh.ThemeBase)).
				WithInput(oneByte{p.In}).WithOutput(p.Out).RunWithContext(ctx)
			if errors.Is(err, huh.ErrUserAborted) || ctx.Err() != nil {
				return ErrAborted
			}
			if err != nil {
				return fmt.Errorf("%s: %w", st.Title(), err)
			}
			if err := drive(ctx, func() tea.Msg { return step.FormDone{} }, update); err != nil {
				return err
			}
		}
	}
	if runner, ok := st.(step.Runner); ok && failed == nil {
		if err := runner.RunPlain(ctx, s, p.In, p.Out); err != nil {
			return err
		}
	}
	if failed != nil {
		fmt.Fprintln(p.Out, p.R.Error(*failed, 0))
		return &ShownError{Err: fmt.Errorf("%s: %s", st.Title(), failed.What)}
	}
	fmt.Fprintln(p.Out, st.View(step.Frame{R: p.R}))
	if !st.Ready() {
		return fmt.Errorf("%s did not finish", st.Title())
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

// oneByte hands its reader over one byte at a time. huh's accessible mode reads each
// answer with a new bufio.Scanner, which on piped input would swallow the answers to
// the questions after it.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}
