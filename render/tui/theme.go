package tui

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Theme is every style the tui backend draws with. It is a plain value: build one with
// ThemeFor (or Dark, Light) once the background is known, adjust fields if you like, and
// pass it to New. The exported building blocks (Title, Muted, Selected, HelpBar, ...) are
// meant for the ui shell too, so that the whole screen shares one palette.
type Theme struct {
	// Building blocks.
	Title    lipgloss.Style // step titles, the summary title
	Text     lipgloss.Style // ordinary text
	Muted    lipgloss.Style // secondary text: intros, details, step counters
	Accent   lipgloss.Style // the wizard's colour, used sparingly
	Selected lipgloss.Style // the focused item of a list or menu
	HelpBar  lipgloss.Style // the key help at the bottom of the screen
	HelpKey  lipgloss.Style // a key inside the help bar ("enter")

	// Progress dots in the step header.
	StepDone lipgloss.Style // ● steps done and the current one
	StepTodo lipgloss.Style // ○ steps to come

	// Facts.
	Key    lipgloss.Style
	Value  lipgloss.Style
	Masked lipgloss.Style

	// Check outcomes, used for the glyph; the fix line uses FixLabel.
	Pass     lipgloss.Style
	Warn     lipgloss.Style
	Fail     lipgloss.Style
	FixLabel lipgloss.Style

	// Unified diff.
	DiffFile    lipgloss.Style // "--- a/..." and "+++ b/..." lines
	DiffHunk    lipgloss.Style // "@@ -1,2 +1,3 @@"
	DiffAdd     lipgloss.Style
	DiffDel     lipgloss.Style
	DiffContext lipgloss.Style
	DiffSecret  lipgloss.Style // the "🔒 path ... content hidden" line
	DiffStat    lipgloss.Style // "3 files changed" line above the diff

	// Error box: the border style holds the border and its colour, padding included.
	ErrorBox   lipgloss.Style
	ErrorTitle lipgloss.Style
	ErrorLabel lipgloss.Style
}

// palette is one set of colours for a background.
type palette struct {
	accent, highlight, green, amber, red, cyan, muted, subtle, faint color.Color
}

// Colours after Charm's own themes (huh, glow), toned for readability on each background.
var (
	darkPalette = palette{
		accent:    lipgloss.Color("#7571F9"),
		highlight: lipgloss.Color("#F780E2"),
		green:     lipgloss.Color("#02BF87"),
		amber:     lipgloss.Color("#E8B84B"),
		red:       lipgloss.Color("#ED567A"),
		cyan:      lipgloss.Color("#5FB4C9"),
		muted:     lipgloss.Color("#8A8A8A"),
		subtle:    lipgloss.Color("#5C5C5C"),
		faint:     lipgloss.Color("#3A3A3A"),
	}
	lightPalette = palette{
		accent:    lipgloss.Color("#5A56E0"),
		highlight: lipgloss.Color("#C0389F"),
		green:     lipgloss.Color("#00875A"),
		amber:     lipgloss.Color("#A86B00"),
		red:       lipgloss.Color("#D32F55"),
		cyan:      lipgloss.Color("#137A8F"),
		muted:     lipgloss.Color("#767676"),
		subtle:    lipgloss.Color("#A0A0A0"),
		faint:     lipgloss.Color("#D0D0D0"),
	}
)

// Dark is the theme for a dark terminal background.
func Dark() Theme { return newTheme(darkPalette) }

// Light is the theme for a light terminal background.
func Light() Theme { return newTheme(lightPalette) }

// ThemeFor returns Dark or Light, after huh's Theme(isDark bool); in Bubble Tea isDark
// comes from tea.BackgroundColorMsg.IsDark.
func ThemeFor(isDark bool) Theme {
	if isDark {
		return Dark()
	}
	return Light()
}

func newTheme(p palette) Theme {
	s := lipgloss.NewStyle
	return Theme{
		Title:    s().Bold(true),
		Text:     s(),
		Muted:    s().Foreground(p.muted),
		Accent:   s().Foreground(p.accent),
		Selected: s().Foreground(p.highlight).Bold(true),
		HelpBar:  s().Foreground(p.subtle),
		HelpKey:  s().Foreground(p.muted),

		StepDone: s().Foreground(p.accent),
		StepTodo: s().Foreground(p.subtle),

		Key:    s().Foreground(p.muted),
		Value:  s(),
		Masked: s().Foreground(p.subtle),

		Pass:     s().Foreground(p.green),
		Warn:     s().Foreground(p.amber),
		Fail:     s().Foreground(p.red),
		FixLabel: s().Foreground(p.accent),

		DiffFile:    s().Bold(true),
		DiffHunk:    s().Foreground(p.cyan),
		DiffAdd:     s().Foreground(p.green),
		DiffDel:     s().Foreground(p.red),
		DiffContext: s(),
		DiffSecret:  s().Foreground(p.muted),
		DiffStat:    s().Foreground(p.muted),

		ErrorBox:   s().Border(lipgloss.RoundedBorder()).BorderForeground(p.red).Padding(0, 1),
		ErrorTitle: s().Foreground(p.red).Bold(true),
		ErrorLabel: s().Foreground(p.muted),
	}
}
