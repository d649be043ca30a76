package selfexec

import (
	"os"
	"slices"
	"testing"
)

func TestCommand(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	command, err := Command("__child")
	if err != nil {
		t.Fatal(err)
	}
	cmd := command([]string{"--flag", "arg"})
	if cmd.Path != self {
		t.Errorf("Path = %s, want this executable %s", cmd.Path, self)
	}
	if want := []string{self, "__child", "--", "--flag", "arg"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("Args = %q, want %q", cmd.Args, want)
	}
	if cmd.SysProcAttr != nil {
		t.Errorf("SysProcAttr = %+v, want none until SetProcAttr", cmd.SysProcAttr)
	}
}
