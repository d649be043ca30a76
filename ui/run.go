package ui

import (
	"context"
	"fmt"
	"io"
	"maps"

	tea "charm.land/bubbletea/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Options say where the wizard runs and how it draws.
type Options struct {
	Layout discover.Layout
	Steps  []step.Def // DefaultSteps() when nil
	// Plain runs the steps with PlainRenderer and no terminal UI.
	Plain         bool
	PlainRenderer render.Renderer
	Theme         Theme
	In            io.Reader
	Out           io.Writer
	// Lab is the sandbox the wizard runs against, if any (etcd-harden lab): the summary
	// offers its rewrite of the Secrets.
	Lab step.Lab
	// Answers prefill prompts by key (from --answers FILE); see AnswerKeys.
	Answers map[string]string
	// Yes (--yes) answers yes to the acts that write the node unless Answers say
	// otherwise: see YesAnswers. Without it they are asked, and never taken by default.
	Yes bool
	// Etcd is how to reach etcd as a client, from the flags (may be empty); the session
	// completes it from the manifests.
	Etcd etcdconn.Conn
}

// NewSession starts the shared state of a wizard run over the given steps.
func NewSession(l discover.Layout, defs []step.Def) *step.Session {
	s := &step.Session{Layout: l, Plan: plan.New(l.Root), Answers: map[string]string{}}
	for _, d := range defs {
		s.Order = append(s.Order, d.Name)
	}
	return s
}

// startAnswers are the answers a run starts with: the answers file's, and where it says
// nothing, --yes's to the acts that write the node.
func startAnswers(o Options) map[string]string {
	out := map[string]string{}
	if o.Yes {
		maps.Copy(out, YesAnswers())
	}
	maps.Copy(out, o.Answers)
	return out
}

// Run runs the wizard until the last step is done. It returns ErrAborted when the user
// quits early.
func Run(ctx context.Context, o Options) error {
	steps := o.Steps
	if steps == nil {
		steps = DefaultSteps()
	}
	s := NewSession(o.Layout, steps)
	s.Answers = startAnswers(o)
	s.Etcd, s.Lab = o.Etcd, o.Lab
	s.ScanEtcd = encryption.Scanner(ctx, s.Conn)
	if o.Plain {
		printTraining(o.Out, s)
		return Plain{R: o.PlainRenderer, In: o.In, Out: o.Out}.Run(ctx, s, steps)
	}
	shell := NewShell(s, steps, o.Theme)
	final, err := tea.NewProgram(shell, tea.WithContext(ctx), tea.WithInput(o.In), tea.WithOutput(o.Out)).Run()
	// Whatever ended the program, running work stops cleanly before we return.
	shell.Cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ErrAborted
		}
		return fmt.Errorf("terminal UI: %w", err)
	}
	if final.(*Shell).Aborted() || ctx.Err() != nil {
		return ErrAborted
	}
	return nil
}
