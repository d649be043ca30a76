package step

import (
	"bytes"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
)

func TestQuestionsAsksWhatWasNotGiven(t *testing.T) {
	q := NewQuestions("test")
	q.Preset(map[string]string{"given": "x"})
	if q.Asks(false)("given") || !q.Asks(false)("other") {
		t.Error("a given answer is asked, or another one is not")
	}
	if !q.Asks(true)("given") {
		t.Error("editing does not ask a given answer")
	}
}

// TestQuestionsAbort: an aborted form closes and becomes the step's error, shown in the
// shell's error view.
func TestQuestionsAbort(t *testing.T) {
	q := NewQuestions("test")
	if q.Start(nil); q.Open() {
		t.Fatal("a nil form is open")
	}
	var v string
	q.Start(huh.NewForm(huh.NewGroup(huh.NewInput().Title("Name?").Value(&v))))
	if !q.Open() || len(q.FormKeys()) == 0 || q.FormView() == "" {
		t.Fatal("the form is not open")
	}
	done := false
	cmd := q.UpdateForm(tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}, func() tea.Cmd { done = true; return nil })
	if q.Open() || done {
		t.Fatalf("aborted form: open %v, done %v", q.Open(), done)
	}
	if q.Err() == nil || q.Err().Error() != "the test questions were not finished" {
		t.Fatalf("err = %v", q.Err())
	}
	if msg, ok := cmd().(ErrorMsg); !ok || msg.Err != q.ErrorView() || msg.Err.Fix != "press e to answer them" {
		t.Fatalf("command gives %+v", msg)
	}
	if q.ClearErr(); q.Err() != nil {
		t.Error("the error stays")
	}
}

func TestGroups(t *testing.T) {
	if (&Groups{}).Form("title") != nil {
		t.Error("a form with nothing to ask")
	}
	tui := &Groups{}
	if tui.Titled("Name", "ada") != "Name" {
		t.Error("the terminal UI's title names the default")
	}
	var name, other string
	plain := &Groups{Intro: "what there is now"}
	plain.Add(nil, huh.NewInput().Title(plain.Titled("Name", "ada")).Value(&name))
	plain.Add(func() bool { return true }, huh.NewInput().Title("Hidden").Value(&other))
	var out bytes.Buffer
	f := plain.Form("Now").WithAccessible(true).WithInput(strings.NewReader("bob\n")).WithOutput(&out)
	if err := f.Run(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Now", "what there is now", "Name [ada]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the accessible form does not show %q:\n%s", want, out.String())
		}
	}
	if name != "bob" || strings.Contains(out.String(), "Hidden") {
		t.Errorf("name %q; asked the hidden field:\n%s", name, out.String())
	}
}
