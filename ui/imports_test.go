package ui

import (
	"os/exec"
	"strings"
	"testing"
)

// TestWizardDoesNotImportLab: the wizard runs on a node and in the lab alike; what only
// the lab does reaches it through step.Lab, which etcd-harden lab hands in. No package
// under ui/ may depend on lab/, directly or through another package.
func TestWizardDoesNotImportLab(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list -deps ./ui/...: %v", err)
	}
	const lab = "github.com/etcd-harden/etcd-harden/lab"
	for p := range strings.FieldsSeq(string(out)) {
		if p == lab || strings.HasPrefix(p, lab+"/") {
			t.Errorf("a package under ui/ depends on %s", p)
		}
	}
}
