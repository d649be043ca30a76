package lab

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
)

// Files a scenario lab keeps beside the tree, relative to the root.
const (
	// BriefFile is what the student reads first: the situation, the goal, the hints.
	BriefFile = "BRIEF.md"
	// RecordFile is the scenario and what its node looked like at the start.
	RecordFile = "var/lib/etcd-harden-lab/scenario.json"
)

// Record is the scenario a lab was laid out for and what its node looked like when it
// started, for the goals that compare ("nothing else changed", "the old key is gone").
// It holds hashes only, never a key.
type Record struct {
	Scenario string    `json:"scenario"`
	Started  time.Time `json:"started"`
	Hints    bool      `json:"hints"`
	// Secrets and ConfigMaps are how many were seeded, for `lab reset`.
	Secrets    int `json:"secrets"`
	ConfigMaps int `json:"configMaps"`
	// CA is the sha256 of the etcd CA certificate file, "" when there was none.
	CA string `json:"caSha256,omitempty"`
	// EtcdFlags and APIServerFlags are the manifests' flags as "--name=value".
	EtcdFlags      []string `json:"etcdFlags"`
	APIServerFlags []string `json:"apiserverFlags"`
	// EncryptionConfig is the sha256 of the config kube-apiserver.yaml named.
	EncryptionConfig string `json:"encryptionConfigSha256,omitempty"`
	// OldKey is the key the student must retire (weak-cipher, key-leak).
	OldKey *KeyRecord `json:"oldKey,omitempty"`
}

// KeyRecord names an encryption key without its secret.
type KeyRecord struct {
	Provider string `json:"provider"`
	Name     string `json:"name"`
	// SecretSHA256 is the sha256 of the base64 secret as the config spells it.
	SecretSHA256 string `json:"secretSha256"`
}

// ErrNotScenarioLab means a lab folder has no scenario record.
var ErrNotScenarioLab = errors.New("not a scenario lab")

// ReadRecord reads the scenario record of the lab rooted at root.
func ReadRecord(root string) (Record, error) {
	var r Record
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(RecordFile)))
	if errors.Is(err, fs.ErrNotExist) {
		return r, &labError{ErrNotScenarioLab, fmt.Sprintf("%s is not a lab folder: it has no %s; give the folder of `etcd-harden lab --keep --dir DIR`", root, RecordFile)}
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, &labError{ErrNotScenarioLab, fmt.Sprintf("%s: the scenario record %s is damaged (%v); lay the scenario out again with `etcd-harden lab reset --dir %s`", root, RecordFile, err, root)}
	}
	return r, nil
}

func writeRecord(root string, r Record) error {
	data, _ := json.MarshalIndent(r, "", "  ")
	return atomicfile.Write(filepath.Join(root, filepath.FromSlash(RecordFile)), append(data, '\n'), 0o644, atomicfile.Options{})
}

// fileSHA256 returns the hex sha256 of the file at path, "" when it cannot be read.
func fileSHA256(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return hexSHA256(data)
}

func hexSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
