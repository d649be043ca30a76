package view

import (
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// Wording picks how RolloutEvent words an event: each door keeps the words its users,
// and the scripts that read its log, already know.
type Wording int

const (
	// Log is "phase: path: message", as `apply` writes its progress on stderr:
	// "write: etc/kubernetes/manifests/etcd.yaml: written".
	Log Wording = iota
	// Sentence is what the wizard shows while it applies: "wrote /etc/kubernetes/...",
	// "etcd at https://127.0.0.1:2379 (waiting for etcd to restart ...)".
	Sentence
)

// RolloutEvent says in words what an apply is doing at e.
func RolloutEvent(e rollout.Event, w Wording) string {
	if w == Log {
		parts := []string{string(e.Phase)}
		if e.Path != "" {
			parts = append(parts, e.Path)
		}
		if e.Message != "" {
			parts = append(parts, e.Message)
		}
		return strings.Join(parts, ": ")
	}
	var line string
	switch e.Phase {
	case rollout.PhaseBackup:
		line = "backing up the files it replaces"
	case rollout.PhaseWrite:
		return "wrote /" + e.Path
	case rollout.PhaseWaitEtcd:
		line = "etcd at " + e.Path
	case rollout.PhaseRollback:
		line = "etcd did not come back: putting every file back"
	case rollout.PhaseDone:
		return "done"
	default:
		line = string(e.Phase)
	}
	if e.Message != "" && e.Phase != rollout.PhaseBackup {
		line += " (" + e.Message + ")"
	}
	return line
}
