package lab_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/lab"
)

// TestBriefs: every scenario's brief has its situation, goal and graded goals; the
// hints only when asked.
func TestBriefs(t *testing.T) {
	for _, s := range lab.Scenarios() {
		with, without := s.Brief(true), s.Brief(false)
		for _, want := range []string{"# Lab scenario: " + s.Name, "## Situation\n\n" + s.Situation, "## Goal\n\n" + s.Goal, "## Graded by `etcd-harden lab check`"} {
			if !strings.Contains(without, want) {
				t.Errorf("%s: the brief lacks %q:\n%s", s.Name, want, without)
			}
		}
		if len(s.Goals) == 0 || len(s.Hints) == 0 {
			t.Errorf("%s: %d goals, %d hints", s.Name, len(s.Goals), len(s.Hints))
		}
		if !strings.Contains(with, "## Hints\n\n- "+s.Hints[0]) || strings.Contains(without, "## Hints") {
			t.Errorf("%s: hints shown %v with, %v without", s.Name, strings.Contains(with, "## Hints"), strings.Contains(without, "## Hints"))
		}
	}
}

func TestFindScenario(t *testing.T) {
	if s, err := lab.FindScenario(""); err != nil || s.Name != lab.DefaultScenario {
		t.Errorf(`FindScenario(""): %v, %v`, s.Name, err)
	}
	_, err := lab.FindScenario("weak-cyphers")
	if !errors.Is(err, lab.ErrUnknownScenario) || !strings.Contains(err.Error(), `unknown scenario "weak-cyphers": choose one of fresh, guide-mistake,`) {
		t.Errorf("FindScenario(weak-cyphers): %v", err)
	}
}
