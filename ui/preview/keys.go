package preview

import "charm.land/bubbles/v2/key"

// KeyMap is the preview's keys. It implements help.KeyMap: ShortHelp gives one binding per
// action (both directions together), FullHelp every binding by column.
type KeyMap struct {
	Up, Down         key.Binding // one line
	PageUp, PageDown key.Binding
	Top, Bottom      key.Binding
	NextFile         key.Binding
	PrevFile         key.Binding
	NextHunk         key.Binding
	PrevHunk         key.Binding
}

// DefaultKeyMap is ↑/↓ j/k, pgup/pgdn, g/G, tab/shift+tab and ]/[ between files, n/N and
// }/{ between hunks.
func DefaultKeyMap() KeyMap {
	return KeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "end")),
		NextFile: key.NewBinding(key.WithKeys("tab", "]"), key.WithHelp("tab/]", "next file")),
		PrevFile: key.NewBinding(key.WithKeys("shift+tab", "["), key.WithHelp("⇧tab/[", "previous file")),
		NextHunk: key.NewBinding(key.WithKeys("n", "}"), key.WithHelp("n/}", "next hunk")),
		PrevHunk: key.NewBinding(key.WithKeys("N", "{"), key.WithHelp("N/{", "previous hunk")),
	}
}

// ShortHelp is one binding per action, each matching the keys of both directions, so a
// one-line help bar fits: "↑/↓ scroll · pgup/pgdn page · tab/⇧tab file · n/N hunk · g/G
// top/end".
func (k KeyMap) ShortHelp() []key.Binding {
	return []key.Binding{
		pair(k.Up, k.Down, "↑/↓", "scroll"),
		pair(k.PageUp, k.PageDown, "pgup/pgdn", "page"),
		pair(k.NextFile, k.PrevFile, "tab/⇧tab", "file"),
		pair(k.NextHunk, k.PrevHunk, "n/N", "hunk"),
		pair(k.Top, k.Bottom, "g/G", "top/end"),
	}
}

// FullHelp is every binding, in columns: scrolling, then files and hunks.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.NextFile, k.PrevFile, k.NextHunk, k.PrevHunk},
	}
}

// pair is one help entry for two bindings that go opposite ways.
func pair(a, b key.Binding, keys, desc string) key.Binding {
	all := append(append([]string{}, a.Keys()...), b.Keys()...)
	return key.NewBinding(key.WithKeys(all...), key.WithHelp(keys, desc))
}
