package lab

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/atomicfile"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// layScenario runs after Layout and before etcd first starts. A hardened scenario is
// hardened by this tool's own plan, so the student meets the files it writes.
func layScenario(root string, sc Scenario) error {
	if !sc.hardened {
		return nil
	}
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		return fmt.Errorf("lay out scenario %s: %w", sc.Name, err)
	}
	r, err := harden.Build(st, harden.Options{Provider: sc.provider, KeyName: sc.keyName})
	if err != nil {
		return fmt.Errorf("lay out scenario %s: harden the tree: %w", sc.Name, err)
	}
	// The backups of this first apply would only show the student a state they never had.
	backups, err := os.MkdirTemp("", "etcd-harden-lab-backup-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(backups)
	if _, err := r.Plan.Apply(plan.ApplyOptions{BackupRoot: backups}); err != nil {
		return fmt.Errorf("lay out scenario %s: write the hardened tree: %w", sc.Name, err)
	}
	return nil
}

// finishScenario runs once etcd is seeded: the Secrets are rewritten through a hardened
// scenario's config, the scenario breaks what it breaks, and the record and BRIEF.md
// are written.
func (l *Lab) finishScenario(ctx context.Context, sc Scenario, hints bool) error {
	if sc.hardened {
		cli, err := l.Client()
		if err != nil {
			return err
		}
		_, err = RewriteSecrets(ctx, l.root, cli, nil)
		cli.Close()
		if err != nil {
			return fmt.Errorf("lay out scenario %s: %w", sc.Name, err)
		}
		l.log(fmt.Sprintf("scenario %s: Secrets rewritten with %s key %s", sc.Name, sc.provider, sc.keyName))
	}
	rec := Record{Scenario: sc.Name, Started: time.Now().UTC().Truncate(time.Second), Hints: hints,
		Secrets: l.seeded.Secrets, ConfigMaps: l.seeded.ConfigMaps}
	if sc.afterSeed != nil {
		if err := sc.afterSeed(l, &rec); err != nil {
			return fmt.Errorf("lay out scenario %s: %w", sc.Name, err)
		}
	}
	if err := recordStart(l.root, &rec, sc); err != nil {
		return err
	}
	if err := writeRecord(l.root, rec); err != nil {
		return err
	}
	brief := filepath.Join(l.root, BriefFile)
	if err := atomicfile.Write(brief, []byte(sc.Brief(hints)), 0o644, atomicfile.Options{}); err != nil {
		return err
	}
	l.scenario = sc.Name
	l.log(fmt.Sprintf("scenario %s: read %s", sc.Name, brief))
	return nil
}

// recordStart notes what the node looks like at the start: the CA, the flags, the
// encryption config and, for a hardened scenario, the key the student must retire.
func recordStart(root string, rec *Record, sc Scenario) error {
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		return fmt.Errorf("record scenario %s: %w", sc.Name, err)
	}
	rec.EtcdFlags = flagList(st.Etcd)
	rec.APIServerFlags = flagList(st.APIServer)
	rec.CA = fileSHA256(filepath.Join(root, filepath.FromSlash(EtcdPKIDir), "ca.crt"))
	if path := configPath(st); path != "" {
		rec.EncryptionConfig = fileSHA256(path)
		if sc.hardened && (sc.Name == "weak-cipher" || sc.Name == "key-leak") {
			keys, err := configKeys(path)
			if err != nil {
				return err
			}
			for _, k := range keys {
				if k.Name == sc.keyName {
					rec.OldKey = &k
				}
			}
		}
	}
	return nil
}

// flagList returns a manifest's flags as "--name=value", nil for no manifest.
func flagList(m *discover.Manifest) []string {
	if m == nil {
		return nil
	}
	var out []string
	for _, f := range m.Flags {
		out = append(out, "--"+f.Name+"="+f.Value)
	}
	return out
}

// configPath is the host path of kube-apiserver's encryption config, "" for none.
func configPath(st *discover.State) string {
	if st.APIServer == nil {
		return ""
	}
	_, host, ok, _ := st.APIServer.FlagPath("encryption-provider-config")
	if !ok {
		return ""
	}
	return host
}
