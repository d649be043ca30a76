package ui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/step"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// beforeReview answers every question before the review step's "What now?".
var beforeReview = map[string]string{
	"encryption.provider": "secretbox", "encryption.resources": "secrets", "encryption.custom": "",
	"encryption.keyName": "key-1", "encryption.autoReload": "false",
	"certs.mode": "auto", "certs.keyType": "ecdsa-p256", "certs.nodeName": "node1", "certs.advertiseIP": "127.0.0.1",
}

// plainRun runs the whole wizard in plain mode on root, in a new empty working folder
// (where "save" would write), and checks that nothing was written in either.
func plainRun(t *testing.T, ctx context.Context, root string, answers map[string]string, in io.Reader, out io.Writer) error {
	t.Helper()
	t.Chdir(t.TempDir())
	before := steptest.Tree(t, root)
	err := Run(ctx, Options{Layout: discover.Defaults(root, "", ""), Plain: true, PlainRenderer: plain.New(),
		In: in, Out: out, Answers: answers})
	steptest.SameTree(t, root, before)
	if entries, _ := os.ReadDir("."); len(entries) > 0 {
		t.Errorf("%s was written in the working folder", entries[0].Name())
	}
	return err
}

// TestPlainEndOfInputAborts: closed standard input is an abort wherever it comes, never
// the question's default; at "What now?" that default used to be "apply".
func TestPlainEndOfInputAborts(t *testing.T) {
	for name, answers := range map[string]map[string]string{"first question": nil, "what now": beforeReview} {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			err := plainRun(t, t.Context(), steptest.Root(t, "unhardened"), answers, strings.NewReader(""), &out)
			var shown *ShownError
			if !errors.Is(err, ErrAborted) || !errors.Is(err, step.ErrEndOfInput) || !errors.As(err, &shown) {
				t.Fatalf("err = %v, want an abort at end of input, shown", err)
			}
			for _, want := range []string{"Error: end of input: aborted, nothing was written\n",
				"What to do: answer the questions at a terminal, or give them in an --answers file"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
			if answers != nil && !strings.Contains(out.String(), "What now?") {
				t.Errorf("the run did not get to the review's question:\n%s", out.String())
			}
		})
	}
}

// TestPlainCtrlCAborts: Ctrl-C at a prompt ends the run at once (the prompt's read of a
// pipe, as a terminal's, cannot be interrupted), and so does the byte Ctrl-C sends.
func TestPlainCtrlCAborts(t *testing.T) {
	t.Run("signal", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		ctx, cancel := context.WithCancel(t.Context())
		out := &promptWatch{prompt: "Enter a number between 1 and 4: ", seen: make(chan struct{})}
		go func() { <-out.seen; cancel() }() // what fang does on SIGINT
		err = plainRun(t, ctx, steptest.Root(t, "unhardened"), nil, r, out)
		if !errors.Is(err, ErrAborted) || !errors.Is(err, step.ErrInterrupted) {
			t.Fatalf("err = %v, want an abort by Ctrl-C", err)
		}
		if !strings.Contains(out.String(), "Error: interrupted (Ctrl-C): aborted, nothing was written\n") {
			t.Errorf("output lacks the abort:\n%s", out.String())
		}
	})
	t.Run("byte", func(t *testing.T) {
		var out bytes.Buffer
		err := plainRun(t, t.Context(), steptest.Root(t, "unhardened"), beforeReview, strings.NewReader("\x03\n1\n"), &out)
		if !errors.Is(err, ErrAborted) || !errors.Is(err, step.ErrInterrupted) {
			t.Fatalf("err = %v, want an abort by Ctrl-C", err)
		}
		if !strings.Contains(out.String(), "Error: interrupted (Ctrl-C): aborted, nothing was written\n") {
			t.Errorf("output lacks the abort:\n%s", out.String())
		}
	})
}

// promptWatch collects output and closes seen once prompt was written.
type promptWatch struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	prompt string
	seen   chan struct{}
	once   sync.Once
}

func (p *promptWatch) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf.Write(b)
	if strings.Contains(p.buf.String(), p.prompt) {
		p.once.Do(func() { close(p.seen) })
	}
	return len(b), nil
}

func (p *promptWatch) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

func TestYesConsentsOnlyWhereTheAnswersSayNothing(t *testing.T) {
	got := startAnswers(Options{Yes: true, Answers: map[string]string{review.AnswerAction: review.ActionNone}})
	want := map[string]string{review.AnswerAction: review.ActionNone, "backup.write": "true", "summary.rewrite": "true"}
	if len(got) != len(want) {
		t.Errorf("--yes answers %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got := startAnswers(Options{}); len(got) != 0 {
		t.Errorf("without --yes: %v", got)
	}
	if got := startAnswers(Options{Yes: true}); got[review.AnswerAction] != review.ActionApply {
		t.Errorf("--yes alone: review.action = %q, want apply", got[review.AnswerAction])
	}
}
