package ui

import (
	"fmt"
	"io"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/ui/step"
)

// briefKey shows the training scenario's brief in a lab laid out for one.
var briefKey = key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "brief"))

// training returns the lab's scenario and brief, "" when the wizard runs in none.
func (m *Shell) training() (name, brief string) {
	t, ok := m.session.Lab.(step.Training)
	if !ok {
		return "", ""
	}
	return t.Training()
}

// briefBinding is "?" with the scenario's name, for the help bar.
func (m *Shell) briefBinding() (key.Binding, bool) {
	name, _ := m.training()
	if name == "" {
		return key.Binding{}, false
	}
	b := briefKey
	b.SetHelp("?", "brief: "+name)
	return b, true
}

// briefTickMsg redraws the open brief: the lab's etcd may restart or fail meanwhile.
// open is the opening of the brief it was started for: a tick of an earlier opening ends.
type briefTickMsg struct{ open int }

// briefEvery is how often the open brief is read again.
const briefEvery = time.Second

func briefTick(open int) tea.Cmd {
	return tea.Tick(briefEvery, func(time.Time) tea.Msg { return briefTickMsg{open} })
}

// briefView is the brief, read afresh (etcd may have started or failed meanwhile),
// wrapped to the window.
func (m *Shell) briefView() string {
	_, brief := m.training()
	return ansi.Wordwrap(strings.TrimRight(brief, "\n"), max(m.width, minWidth), "")
}

// printTraining starts a plain run in a scenario lab with the scenario's brief: there is
// no "?" to press.
func printTraining(w io.Writer, s *step.Session) {
	t, ok := s.Lab.(step.Training)
	if !ok {
		return
	}
	if name, brief := t.Training(); name != "" {
		fmt.Fprintf(w, "Lab scenario: %s\n\n%s\n", name, strings.TrimRight(brief, "\n"))
	}
}
