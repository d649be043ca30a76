package ui

import (
	"context"
	"errors"
	"fmt"
	"io"

	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/ui/review"
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

// Run runs every step in order. End of input and Ctrl-C abort the run (ErrAborted),
// whatever question was open: neither is ever taken as an answer.
func (p Plain) Run(ctx context.Context, s *step.Session, defs []step.Def) error {
	in := step.NewInput(ctx, p.In)
	for i, d := range defs {
		st := d.New()
		fmt.Fprintln(p.Out, p.R.Header(render.Header{Step: i + 1, Of: len(defs), Title: st.Title(), Intro: st.Intro()}, 0))
		if err := p.runStep(ctx, s, st, in); err != nil {
			if why := abortCause(ctx, err); why != nil {
				return p.abort(s, why)
			}
			return err
		}
		fmt.Fprintln(p.Out)
	}
	return nil
}

// abortCause says why err stopped the run early: the input ended or Ctrl-C came
// (ErrEndOfInput, ErrInterrupted). Nil when err is a failure of the step itself.
func abortCause(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, step.ErrEndOfInput), errors.Is(err, step.ErrInterrupted):
		return err
	case errors.Is(err, ErrAborted), errors.Is(err, ctx.Err()):
		return step.ErrInterrupted
	case ctx.Err() != nil:
		// Work stopped half way (an apply rolled back): its error says what became of
		// the files.
		return fmt.Errorf("%w; %w", step.ErrInterrupted, err)
	}
	return nil
}

// abortError is a plain run stopped by end of input or Ctrl-C: an ErrAborted that says
// why, and what was written by then.
type abortError struct {
	why error
	msg string
}

func (e *abortError) Error() string   { return e.msg }
func (e *abortError) Unwrap() []error { return []error{ErrAborted, e.why} }

// abort prints why the run stopped and what it had written by then, and returns the
// abort, already shown.
func (p Plain) abort(s *step.Session, why error) error {
	e := render.Error{What: why.Error() + ": aborted, " + writtenSoFar(s)}
	switch {
	case errors.Is(why, step.ErrEndOfInput):
		e.Fix = "answer the questions at a terminal, or give them in an --answers file (with --yes to apply without asking)"
	case why != step.ErrInterrupted:
		e.What = why.Error() // the step's own words on what it left
	}
	// A blank line first: the open prompt's line has no end.
	fmt.Fprintln(p.Out, "\n"+p.R.Error(e, 0))
	return &ShownError{Err: &abortError{why: why, msg: e.What}}
}

// writtenSoFar says what the steps before the abort wrote: the review step is the one
// that writes the node (apply) or a plan folder (save).
func writtenSoFar(s *step.Session) string {
	res := s.Review
	switch {
	case res != nil && res.Action == review.ActionApply:
		return fmt.Sprintf("after the plan was applied (backup %s; undo with etcd-harden rollback %s)", res.BackupDir, res.BackupDir)
	case res != nil && res.Action == review.ActionSave:
		return "after the plan was saved in " + res.SavedDir + "; the node was not changed"
	}
	return "nothing was written"
}

func (p Plain) runStep(ctx context.Context, s *step.Session, st step.Step, in *step.Input) (err error) {
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
			if err := step.Ask(ctx, form, in, p.Out); err != nil {
				return err
			}
			if err := drive(ctx, func() tea.Msg { return step.FormDone{} }, update); err != nil {
				return err
			}
		}
	}
	if runner, ok := st.(step.Runner); ok && failed == nil {
		if err := runner.RunPlain(ctx, s, in, p.Out); err != nil {
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
