package preview

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/etcd-harden/etcd-harden/render/tui"
)

// program runs the preview as a whole bubbletea program, the way the wizard's shell
// will host it: q quits, everything else goes to the preview.
type program struct{ preview Model }

func (p program) Init() tea.Cmd { return p.preview.Init() }

func (p program) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok && k.String() == "q" {
		return p, tea.Quit
	}
	var cmd tea.Cmd
	p.preview, cmd = p.preview.Update(msg)
	return p, cmd
}

func (p program) View() tea.View { return tea.NewView(p.preview.View()) }

// TestProgram runs the preview in a real bubbletea program with a pinned window size and
// colour profile, sends keys as a terminal would, and pins the final screen.
func TestProgram(t *testing.T) {
	cases := []struct {
		name string
		size [2]int
		keys []tea.KeyPressMsg
	}{
		{"initial", [2]int{100, 30}, nil},
		{"initial", [2]int{60, 20}, nil},
		{"second_file", [2]int{100, 30}, []tea.KeyPressMsg{keyTab}},
		{"next_hunk", [2]int{100, 30}, []tea.KeyPressMsg{keyText("n"), keyText("n")}},
		{"pgdn", [2]int{60, 20}, []tea.KeyPressMsg{keyPgDown}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s_%dx%d", c.name, c.size[0], c.size[1]), func(t *testing.T) {
			tm := teatest.NewTestModel(t, program{New(planFiles(), tui.Dark())},
				teatest.WithInitialTermSize(c.size[0], c.size[1]),
				teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.TrueColor)))
			teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
				return bytes.Contains(b, []byte("secret file hidden"))
			}, teatest.WithDuration(5*time.Second))
			for _, k := range c.keys {
				tm.Send(k)
			}
			tm.Type("q")
			final := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(program)
			golden.RequireEqual(t, pinned(t, final.preview.View())+"\n")

			out, err := io.ReadAll(tm.FinalOutput(t))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(out, []byte(secretKey)) {
				t.Error("the program wrote the secret file's content to the terminal")
			}
		})
	}
}
