package lab

import (
	"errors"
	"fmt"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/encryption"
)

// Scenario is a training situation a lab starts in: how the node is laid out, what the
// student is told (BRIEF.md) and which goals `lab check` grades.
type Scenario struct {
	Name string
	// Short is the one line `lab --list` shows.
	Short string
	// Situation, Goal and Hints make BRIEF.md; a trainer may leave the hints out.
	Situation, Goal string
	Hints           []string
	// Goals are the ids of the goals Grade checks, in the order shown.
	Goals []string

	// hardened lays out the tree hardened by this tool's own plan (mutual TLS, and
	// encryption at rest with provider and keyName) before etcd first starts; the
	// Secrets are then rewritten through that config.
	hardened bool
	provider encryption.Provider
	keyName  string
	// afterSeed breaks the node once etcd runs and is seeded (certificates, flags).
	afterSeed func(l *Lab, rec *Record) error
}

// DefaultScenario is the lab's scenario when none is named: today's sandbox.
const DefaultScenario = "fresh"

// Key names the hardened scenarios start with.
const (
	oldKeyName    = "key-2023"
	leakedKeyName = "key-2024-ops"
	liveKeyName   = "key-2025"
)

// scenarios is the catalogue, in the order `lab --list` shows it.
var scenarios = []Scenario{
	{
		Name:      "fresh",
		Short:     "an unhardened kubeadm node: plain http, Secrets in plaintext",
		Situation: "A kubeadm control-plane node as a widely copied guide leaves it: etcd serves clients and peers over plain http, anyone who reaches its port reads every Secret, and kube-apiserver stores Secrets in plaintext.",
		Goal:      "etcd enforces mutual TLS for clients and peers, kube-apiserver still reaches it with its client pair, every Secret is encrypted with secretbox (or KMS v2), and a verified snapshot of the hardened data exists outside etcd's data dir.",
		Hints: []string{
			"`etcd-harden audit` shows what is missing; the wizard (or `plan` then `apply`) fixes the manifests, the certificates and the encryption config in one reviewed diff.",
			"Encryption at rest only applies to values written after kube-apiserver restarts: rewrite every Secret (the wizard's summary offers it; or `etcd-harden lab rewrite`).",
			"etcd keeps the peer URL it first ran with in its member list: once it serves peers on https, update it with `etcdctl member update ID --peer-urls=https://...` (`eval \"$(etcd-harden lab env)\"` sets etcdctl up).",
			"`etcd-harden snapshot test --dest DIR` takes and verifies a snapshot; choose a folder outside /var/lib/etcd.",
		},
		Goals: []string{GoalClientTLS, GoalPeerTLS, GoalAPIServerReaches, GoalSecretsEncrypted, GoalStrongProvider, GoalSnapshot},
	},
	{
		Name:      "guide-mistake",
		Short:     "--encryption-provider-config put into etcd.yaml, as a copied guide says: etcd crash-loops",
		Situation: "Someone followed a widely copied guide and put --encryption-provider-config into etcd.yaml. etcd does not know the flag and refuses to start: the lab's kubelet restarts it again and again (CrashLoopBackOff, with a back-off that grows) and shows etcd's own error line, and the control plane is down.",
		Goal:      "etcd runs again, --encryption-provider-config is where it belongs (kube-apiserver.yaml, with a hostPath mount, and a config kube-apiserver accepts), and every Secret is encrypted.",
		Hints: []string{
			"Read etcd's own words: the lab's log (var/log/etcd-harden-lab/etcd.log) or the wizard's brief (`?`).",
			"etcd stores what kube-apiserver hands it; it is kube-apiserver that encrypts. The plan moves the flag and keeps the key the guide had you write.",
			"Rewrite every Secret once kube-apiserver has the config (the wizard's summary, or `etcd-harden lab rewrite`).",
		},
		Goals: []string{GoalEtcdRuns, GoalFlagPlacement, GoalSecretsEncrypted},
		afterSeed: func(l *Lab, rec *Record) error {
			return l.breakWithGuide(rec)
		},
	},
	{
		Name:      "weak-cipher",
		Short:     "encryption at rest on with aescbc; move to secretbox and retire the old key",
		Situation: "Encryption at rest is on, but with aescbc, which the Kubernetes docs no longer recommend (padding-oracle weakness). Every Secret in etcd is written with the aescbc key " + oldKeyName + ".",
		Goal:      "Secrets are written with secretbox (or KMS v2), every Secret is rewritten under the new key, and once none uses it the aescbc key is removed from the config.",
		Hints: []string{
			"Rotate, do not replace: the new provider goes first and the aescbc key stays for reads until every Secret is rewritten (the wizard and `plan` do this).",
			"Rewrite every Secret (`etcd-harden lab rewrite` stands in for `kubectl get secrets -A -o json | kubectl replace -f -`), then check with `etcd-harden encryption status`.",
			"Only then retire the aescbc key: `etcd-harden plan --retire-key key-2023` (or the wizard, which then offers it) removes it once a scan of etcd shows no Secret still uses it, and refuses before.",
		},
		Goals:    []string{GoalStrongProvider, GoalSecretsCurrentKey, GoalOldKeyRemoved, GoalSecretsEncrypted},
		hardened: true, provider: encryption.AESCBC, keyName: oldKeyName,
	},
	{
		Name:      "expiring-certs",
		Short:     "mutual TLS on; the server certificate expires in 3 days, the peer certificate has expired",
		Situation: "The node is hardened, but nobody renewed etcd's certificates: the server certificate expires in 3 days and the peer certificate has already expired. When the server certificate expires, kube-apiserver loses etcd.",
		Goal:      "The server and peer certificates are renewed (signed by the same etcd CA, more than 30 days left), and nothing else changed: same CA, same manifest flags, same encryption config.",
		Hints: []string{
			"`etcd-harden certs check` shows the days left for every pair.",
			"The certificates mode \"generate\" re-issues every leaf with the existing CA (`plan --certs generate`, or certs.mode: generate in the wizard).",
			"Read the diff before applying: only certificate files should change.",
		},
		Goals:    []string{GoalCertsValid, GoalClientTLS, GoalAPIServerReaches, GoalUnchanged},
		hardened: true, provider: encryption.Secretbox, keyName: liveKeyName,
		afterSeed: func(l *Lab, rec *Record) error { return l.ageCertificates() },
	},
	{
		Name:      "wrong-sans",
		Short:     "the server certificate lacks the node's address: clients that dial by IP fail",
		Situation: "etcd's server certificate was issued for the node's names only (lab-control-plane, localhost), not for its address 127.0.0.1. kube-apiserver dials etcd by IP, so every TLS handshake fails its name check.",
		Goal:      "The server certificate names every address clients dial, kube-apiserver reaches etcd with its client pair, and mutual TLS stays enforced.",
		Hints: []string{
			"`etcd-harden certs check` names the missing SAN; `etcd-harden encryption status` shows how a client fails.",
			"Re-issue the certificate with the existing CA: the certificates step does it when the SAN check fails (`plan --certs auto`).",
		},
		Goals:    []string{GoalSANs, GoalAPIServerReaches, GoalClientTLS},
		hardened: true, provider: encryption.Secretbox, keyName: liveKeyName,
		afterSeed: func(l *Lab, rec *Record) error { return l.dropIPSANs() },
	},
	{
		Name:      "key-leak",
		Short:     "an encryption key was committed to a repository: rotate it out",
		Situation: "The encryption config with the secretbox key " + leakedKeyName + " was committed to a public repository. Anyone with a copy of etcd's data, or of any snapshot, can read every Secret.",
		Goal:      "A new key comes first, every Secret is rewritten under it, the leaked key is gone from the config, and a verified snapshot is taken after the rewrite (older snapshots still hold values under the leaked key).",
		Hints: []string{
			"Rotate (`plan --rotate`, or encryption.rotate: true in the wizard): a new key first, the leaked key kept for reads.",
			"Rewrite every Secret (`etcd-harden lab rewrite`), check with `etcd-harden encryption status`, then retire the leaked key: `etcd-harden plan --retire-key " + leakedKeyName + "` (or the wizard, which offers it once no Secret uses it).",
			"`etcd-harden snapshot test --dest DIR` after the rewrite; destroy older snapshots.",
		},
		Goals:    []string{GoalSecretsCurrentKey, GoalOldKeyRemoved, GoalSecretsEncrypted, GoalSnapshotAfterRewrite},
		hardened: true, provider: encryption.Secretbox, keyName: leakedKeyName,
	},
	{
		Name:      "no-backup",
		Short:     "hardened, but no snapshot exists and the backup folder is inside etcd's data dir",
		Situation: "The node is hardened, but no snapshot was ever taken, and the folder meant for backups, /var/lib/etcd/backups, sits inside etcd's data dir: a restore that replaces the data dir, or a disk lost with it, takes the backups along.",
		Goal:      "A verified snapshot of the current data exists outside etcd's data dir, and etcd's data dir holds only etcd's own files.",
		Hints: []string{
			"`etcd-harden snapshot test --dest DIR` refuses a destination inside the data dir; pick another (the lab's root has var/backups).",
			"Remove the old folder once the new destination works.",
		},
		Goals:    []string{GoalSnapshot, GoalBackupOutsideDataDir, GoalClientTLS},
		hardened: true, provider: encryption.Secretbox, keyName: liveKeyName,
		afterSeed: func(l *Lab, rec *Record) error { return l.backupInDataDir() },
	},
}

// ErrUnknownScenario means no scenario has the name given.
var ErrUnknownScenario = errors.New("unknown scenario")

// Scenarios returns the catalogue in the order `lab --list` shows it.
func Scenarios() []Scenario { return append([]Scenario(nil), scenarios...) }

// FindScenario returns the scenario called name ("" is DefaultScenario).
func FindScenario(name string) (Scenario, error) {
	if name == "" {
		name = DefaultScenario
	}
	var names []string
	for _, s := range scenarios {
		if s.Name == name {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Scenario{}, fmt.Errorf("%w %q: choose one of %s (etcd-harden lab --list)", ErrUnknownScenario, name, strings.Join(names, ", "))
}
