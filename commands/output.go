package commands

import (
	"encoding/json"
	"fmt"
	"io"
)

// checkOutput accepts the -o values every command shares.
func checkOutput(output string) error {
	if output != "" && output != "json" && output != "text" {
		return &usageError{fmt.Errorf("--output %q: use json or text", output)}
	}
	return nil
}

// checked is what a checking command shows: the value that -o json prints, the text
// view otherwise, and whether a check failed.
type checked struct {
	json   any
	text   func(w io.Writer) error
	failed bool
}

// print writes c to w as JSON when output is "json", else as text, then returns
// errChecksFailed when a check failed: the command exits 1 after it printed.
func (c checked) print(w io.Writer, output string) error {
	var err error
	if output == "json" {
		err = printJSON(w, c.json)
	} else {
		err = c.text(w)
	}
	if err != nil {
		return err
	}
	if c.failed {
		return errChecksFailed
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
