package discover

import (
	"fmt"
	"path"
	"strings"
	"unicode"
)

// item returns the flag as it is written in its list item ("--name cp1").
func (f Flag) item() string {
	s := strings.Repeat("-", f.Dashes) + f.Name
	if f.HasValue && !f.Separate {
		s += "=" + f.Value
	}
	return s
}

// malformed returns the first flag whose name holds a blank ("--name cp1" in one
// item): etcd and kube-apiserver read it as a flag of that whole name and refuse to
// start, so no value may be guessed from it.
func malformed(flags []Flag) *Flag {
	for i := range flags {
		if strings.IndexFunc(flags[i].Name, unicode.IsSpace) >= 0 {
			return &flags[i]
		}
	}
	return nil
}

// malformedMsg says what is wrong with the malformed flag f and how to write it.
func (f Flag) malformedMsg(binary string) string {
	text := strings.TrimSpace(strings.TrimLeft(f.item(), "-"))
	end := strings.IndexFunc(text, func(r rune) bool { return r == '=' || unicode.IsSpace(r) })
	if end < 0 {
		end = len(text)
	}
	fix := strings.Repeat("-", f.Dashes) + text[:end]
	rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(text[end:]), "="))
	if rest != "" {
		fix += "=" + rest
	}
	return fmt.Sprintf("the argument %q has a blank where \"=\" belongs: %s reads it as one flag named %q and refuses to start (flag provided but not defined), and etcd-harden will not guess its value; write it as %s",
		f.item(), binary, f.Name, fix)
}

// Duplicate is a flag given more than once in a manifest.
type Duplicate struct {
	Name  string
	Items []string // every occurrence as written, in order: "--name=a", "--name b"
}

// Duplicates returns the flags given more than once, in the order of their first
// occurrence.
func (m *Manifest) Duplicates() []Duplicate {
	var out []Duplicate
	at := map[string]int{}
	for _, f := range m.Flags {
		it := f.item()
		if f.Separate {
			it += " " + f.Value
		}
		i, ok := at[f.Name]
		if !ok {
			at[f.Name] = len(out)
			out = append(out, Duplicate{Name: f.Name, Items: []string{it}})
			continue
		}
		out[i].Items = append(out[i].Items, it)
	}
	dups := out[:0]
	for _, d := range out {
		if len(d.Items) > 1 {
			dups = append(dups, d)
		}
	}
	return dups
}

// Describe says what a duplicate flag does in the manifest m: which one the binary
// uses, and what to do.
func (d Duplicate) Describe(m *Manifest) string {
	binary := m.Binary
	if binary == "" {
		binary = "the binary"
	}
	uses := fmt.Sprintf("%s uses the last one, %s", binary, d.Items[len(d.Items)-1])
	if binary == APIServerBinary {
		uses += " (a list flag such as --etcd-servers joins them all)"
	}
	return fmt.Sprintf("%s gives --%s %d times (%s): %s", path.Base(m.Path), d.Name, len(d.Items), strings.Join(d.Items, ", then "), uses)
}
