package render

// UsePlain reports whether the plain backend should draw instead of the tui: when stdout
// is not a terminal (pipes, logs, CI), when the user passed --plain, when NO_COLOR is set
// to anything (https://no-color.org), or when TERM is "dumb". env is os.Getenv in main and
// a map lookup in tests.
func UsePlain(isTTY, plainFlag bool, env func(string) string) bool {
	switch {
	case !isTTY, plainFlag:
		return true
	case env == nil:
		return false
	case env("NO_COLOR") != "":
		return true
	default:
		return env("TERM") == "dumb"
	}
}
