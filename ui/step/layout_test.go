package step

import (
	"strings"
	"testing"
)

func TestWithForm(t *testing.T) {
	context := "c1\nc2\nc3\nc4\nc5"
	form := "q1\nq2"
	if got := WithForm(context, form, 0); got != context+"\n\n"+form {
		t.Fatalf("unknown height must keep everything:\n%s", got)
	}
	if got := WithForm(context, form, 8); got != context+"\n\n"+form {
		t.Fatalf("what fits must stay as it is:\n%s", got)
	}
	got := WithForm(context, form, 6)
	want := "… 3 lines above (shown again after the questions)\nc4\nc5\n\nq1\nq2"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if got := WithForm(context, form, 2); got != form || strings.Contains(got, "c5") {
		t.Fatalf("with no room for context the form alone shows:\n%s", got)
	}
}
