package view

import (
	"testing"

	"github.com/etcd-harden/etcd-harden/steps/rollout"
)

// TestRolloutEvent pins both wordings: the log's, which scripts grep on apply's stderr,
// and the wizard's sentences.
func TestRolloutEvent(t *testing.T) {
	for _, tc := range []struct {
		e             rollout.Event
		log, sentence string
	}{
		{rollout.Event{Phase: rollout.PhaseBackup, Path: "etc/kubernetes/manifests/etcd.yaml", Message: "copying the current file"},
			"backup: etc/kubernetes/manifests/etcd.yaml: copying the current file", "backing up the files it replaces"},
		{rollout.Event{Phase: rollout.PhaseWrite, Path: "etc/kubernetes/manifests/etcd.yaml", Message: "written"},
			"write: etc/kubernetes/manifests/etcd.yaml: written", "wrote /etc/kubernetes/manifests/etcd.yaml"},
		{rollout.Event{Phase: rollout.PhaseWaitEtcd, Path: "https://127.0.0.1:2379", Message: "etcd 3.7.0 answers"},
			"wait-etcd: https://127.0.0.1:2379: etcd 3.7.0 answers", "etcd at https://127.0.0.1:2379 (etcd 3.7.0 answers)"},
		{rollout.Event{Phase: rollout.PhaseRollback, Path: "/var/lib/etcd-harden/backup/x", Message: "putting every file back from the backup"},
			"rollback: /var/lib/etcd-harden/backup/x: putting every file back from the backup",
			"etcd did not come back: putting every file back (putting every file back from the backup)"},
		{rollout.Event{Phase: rollout.PhaseDone, Message: "nothing to change"}, "done: nothing to change", "done"},
	} {
		if got := RolloutEvent(tc.e, Log); got != tc.log {
			t.Errorf("RolloutEvent(%v, Log) = %q, want %q", tc.e, got, tc.log)
		}
		if got := RolloutEvent(tc.e, Sentence); got != tc.sentence {
			t.Errorf("RolloutEvent(%v, Sentence) = %q, want %q", tc.e, got, tc.sentence)
		}
	}
}
