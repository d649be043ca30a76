package lab

import (
	"fmt"
	"strings"
)

// Brief is BRIEF.md for the scenario: the situation, the goal, what `lab check`
// grades, and the hints unless a trainer leaves them out.
func (s Scenario) Brief(hints bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Lab scenario: %s\n\n%s.\n\n", s.Name, upperFirst(s.Short))
	fmt.Fprintf(&b, "## Situation\n\n%s\n\n## Goal\n\n%s\n\n", s.Situation, s.Goal)
	b.WriteString("## Graded by `etcd-harden lab check`\n\n")
	for _, id := range s.Goals {
		fmt.Fprintf(&b, "- %s\n", goalTitle(id))
	}
	if hints && len(s.Hints) > 0 {
		b.WriteString("\n## Hints\n\n")
		for _, h := range s.Hints {
			fmt.Fprintf(&b, "- %s\n", h)
		}
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
