package step

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
)

// WithForm lays a form under the context it answers (the checks, the config as it is),
// keeping the whole form in view: when both do not fit in height rows, the context gives
// up lines from its top and says how many are hidden. A form cut off at the bottom
// would hide the very question being asked; the context shows again once it is answered.
// A height of 0 (unknown) keeps everything.
func WithForm(context, form string, height int) string {
	full := context + "\n\n" + form
	if height <= 0 || lipgloss.Height(full) <= height {
		return full
	}
	lines := strings.Split(context, "\n")
	// Rows left for the context: the height less the form, the blank line between them
	// and the line that says what is hidden.
	keep := height - lipgloss.Height(form) - 2
	if keep <= 0 {
		return form
	}
	hidden := len(lines) - keep
	note := fmt.Sprintf("… %d lines above (shown again after the questions)", hidden)
	return note + "\n" + strings.Join(lines[hidden:], "\n") + "\n\n" + form
}
