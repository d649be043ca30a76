package tui

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/etcd-harden/etcd-harden/render"
)

// Diff renders a muted stat line ("3 files · +18 −1 · 1 hidden") and then each file's
// DiffLines, files apart by a blank line.
func (r *Renderer) Diff(d render.Diff, width int) string {
	if len(d.Files) == 0 {
		return r.theme.Muted.Render("No changes")
	}
	blocks := []string{truncate(r.theme.DiffStat.Render(diffStat(d)), width)}
	for _, f := range d.Files {
		blocks = append(blocks, strings.Join(r.DiffLines(f, width), "\n"))
	}
	return strings.Join(blocks, "\n\n")
}

func diffStat(d render.Diff) string {
	added, removed, hidden := 0, 0, 0
	for _, f := range d.Files {
		added += f.Added
		removed += f.Removed
		if f.Secret {
			hidden++
		}
	}
	files := "1 file"
	if len(d.Files) != 1 {
		files = strconv.Itoa(len(d.Files)) + " files"
	}
	s := files + " · +" + strconv.Itoa(added) + " −" + strconv.Itoa(removed)
	if hidden > 0 {
		s += " · " + strconv.Itoa(hidden) + " hidden"
	}
	return s
}

// DiffLines colours the unified diff of one file, one styled string per screen line:
// file headers bold, hunk headers cyan, added lines green, removed lines red. A diff line
// wider than width goes on over the next lines, after a muted ↪ instead of its sign, so
// nothing under review is cut off; width 0 keeps one string per diff line (for a viewport
// that scrolls sideways). A secret file is the single line
// "🔒 path (mode 0600) — content hidden". Each line carries its own escape codes, so a
// viewport can show any window of them; call it once per diff, not once per frame.
func (r *Renderer) DiffLines(f render.DiffFile, width int) []string {
	if f.Secret {
		lines := wrap(secretLine(f), textWidth(width, 3), "/")
		for i, l := range lines {
			if i > 0 {
				l = "   " + l // under the path, past the lock
			}
			lines[i] = r.theme.DiffSecret.Render(l)
		}
		return lines
	}
	text := strings.TrimSuffix(f.Text, "\n")
	if text == "" {
		return nil
	}
	raw := strings.Split(text, "\n")
	out := make([]string, 0, len(raw))
	inHeader := true // before the first hunk, "---" and "+++" name the files
	for _, l := range raw {
		var style span
		switch {
		case strings.HasPrefix(l, "@@"):
			inHeader = false
			style = r.diff.hunk
		case inHeader:
			style = r.diff.file
		case strings.HasPrefix(l, "+"):
			style = r.diff.add
		case strings.HasPrefix(l, "-"):
			style = r.diff.del
		case strings.HasPrefix(l, `\`):
			style = r.diff.note
		case strings.HasPrefix(l, "diff "):
			// A multi-file text: a new file header starts.
			inHeader = true
			style = r.diff.file
		default:
			style = r.diff.context
		}
		if strings.Contains(l, "\t") {
			l = strings.ReplaceAll(l, "\t", "    ")
		}
		if width <= 0 || len(l) <= width || ansi.StringWidth(l) <= width {
			out = append(out, style.render(l))
			continue
		}
		out = append(out, r.wrapDiffLine(l, width, style)...)
	}
	return out
}

// secretLine names a secret file without its content.
func secretLine(f render.DiffFile) string {
	var b strings.Builder
	b.WriteString("🔒 " + f.Path)
	var notes []string
	if f.New {
		notes = append(notes, "new")
	}
	if f.Mode != "" {
		notes = append(notes, "mode "+f.Mode)
	}
	if len(notes) > 0 {
		b.WriteString(" (" + strings.Join(notes, ", ") + ")")
	}
	b.WriteString(" — content hidden")
	return b.String()
}

// wrapDiffLine cuts a long diff line into screen lines. The continuations keep the line's
// colour, with a muted ↪ in place of the sign, so they cannot pass for context lines.
func (r *Renderer) wrapDiffLine(l string, width int, style span) []string {
	sign := ""
	if strings.ContainsAny(l[:1], "+- ") {
		sign, l = l[:1], l[1:]
	}
	parts := strings.Split(ansi.Hardwrap(l, width-1, true), "\n")
	out := make([]string, len(parts))
	for i, p := range parts {
		if i == 0 && sign != "" {
			out[i] = style.render(sign + p)
		} else {
			out[i] = r.diff.note.render(continued) + style.render(p)
		}
	}
	return out
}

// continued marks the screen lines that carry on a diff line too long for the width.
const continued = "↪"
