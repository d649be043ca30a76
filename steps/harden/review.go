package harden

import (
	"fmt"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/audit"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/plan"
)

// Review returns REVIEW.md: the files the plan changes and why, the encryption and
// certificate choices, the CIS checks before and after, and the steps left to the user.
// Secret files are named, never shown.
func Review(r *Result) []byte {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	w("# etcd-harden plan\n\n")
	w("Made on %s for the node under `%s`.\n\n", r.Now.UTC().Format("2006-01-02 15:04 MST"), r.Plan.Root)
	diffs := r.Plan.FileDiffs()
	if len(diffs) == 0 {
		w("Nothing to change: the node is hardened as asked already.\n")
	} else {
		w("Review `%s` (the exact edits) and this file, then apply on the node with\n`etcd-harden apply --plan <this folder>`: it checks that no file changed since,\nkeeps backups and rolls back when etcd does not come back healthy.\n\n", PatchFile)
		w("`git apply` or `patch -p1` in the root apply only the files without secrets, and write\nthe manifests with the default mode: copy `%s/` yourself, `chmod 600` the manifests, and\nrun the `chmod` commands of the `# mode` lines at the top of `%s`.\n\n", SecretsDir, PatchFile)
	}
	b.WriteString(clusterReview(r))
	reviewFiles(w, diffs)
	reviewEncryption(w, r.Encryption)
	reviewCerts(w, r.Certs)
	reviewChecks(w, r.Before, r.After)
	if len(r.Steps) > 0 {
		w("## Steps left to you\n\n")
		for i, s := range r.Steps {
			w("%d. %s\n", i+1, s)
		}
		w("\n")
	}
	if secret := r.Plan.SecretFiles(); len(secret) > 0 {
		w("## Secrets\n\n")
		w("These files hold keys. Their content is only in `%s/` (folders 0700, files 0600),\nnever in the patch, this file, `%s` or `%s`; `.gitignore` keeps them out of git.\nKeep the folder on the node and delete it once the plan is applied.\n\n", SecretsDir, KubeadmFile, IndexFile)
		for _, s := range secret {
			w("- `%s/%s` → `/%s`\n", SecretsDir, s, s)
		}
		w("\n")
	}
	return []byte(b.String())
}

type writer func(format string, a ...any)

func reviewFiles(w writer, diffs []plan.FileDiff) {
	if len(diffs) == 0 {
		return
	}
	w("## Files\n\n| File | Change | Mode | Lines | Why |\n|---|---|---|---|---|\n")
	for _, d := range diffs {
		change, lines := "edited", fmt.Sprintf("+%d −%d", d.Added, d.Removed)
		switch {
		case d.ModeOnly:
			change, lines = fmt.Sprintf("mode %04o → %04o", d.OldMode, d.Mode), "—"
		case d.New:
			change = "new"
		case d.Mode != d.OldMode:
			change = fmt.Sprintf("edited, mode %04o → %04o", d.OldMode, d.Mode)
		}
		if d.Secret && !d.ModeOnly {
			change += ", secret (not shown)"
		}
		w("| `/%s` | %s | %04o | %s | %s |\n", d.Path, change, d.Mode.Perm(), lines, cell(strings.Join(d.Reasons, "; ")))
	}
	w("\n")
}

func reviewEncryption(w writer, e *encryption.Result) {
	if e == nil {
		return
	}
	w("## Encryption at rest\n\n")
	switch e.Action {
	case encryption.ActionKept:
		w("The encryption config `%s` already encrypts %s: kept as it is.\n", e.ConfigPath, strings.Join(e.Resources, ", "))
	default:
		w("- Action: %s config, provider **%s**, key `%s`\n", e.Action, e.Provider, e.KeyName)
		w("- Resources: %s\n", strings.Join(e.Resources, ", "))
		w("- Config: `%s` (in the kube-apiserver container and on the node)\n", e.ConfigPath)
		reviewKeys(w, e)
	}
	for _, warn := range e.Warnings {
		w("- Note: %s\n", warn)
	}
	w("\n")
}

// reviewKeys says in words which key is new and which are kept, and from where: a
// reviewer must see that no key in use is dropped.
func reviewKeys(w writer, e *encryption.Result) {
	switch {
	case e.Action == encryption.ActionRetired:
		w("- New key: none; `%s:%s` keeps encrypting every new write\n", e.Provider, e.KeyName)
	case e.Key.IsZero():
		w("- New: none made here (the KMS plugin %s holds the key)\n", e.KeyName)
	default:
		w("- New key: `%s:%s`, first: it encrypts every new write\n", e.Provider, e.KeyName)
	}
	from := map[string]encryption.KeptKey{}
	for _, k := range e.KeptKeys {
		from[k.ID] = k
	}
	for _, id := range e.OldKeys {
		if k, ok := from[id]; ok {
			w("- Kept for reading: `%s`, from `%s` (%s)\n", id, k.From, k.Where)
		} else {
			w("- Kept for reading: `%s`, already in the config\n", id)
		}
	}
	if len(e.OldKeys) == 0 {
		w("- Kept for reading: no old key (none was found in the node's encryption configs, backups or plan folder)\n")
	}
	for _, id := range e.RetiredKeys {
		w("- Retired: `%s`, removed from the config: the scan of etcd found no value stored with it\n", id)
	}
	for _, k := range e.DroppedKeys {
		w("- Not kept: `%s` from `%s` (%s): no value in etcd was written with it\n", k.ID, k.From, k.Where)
	}
	if e.EtcdScanned {
		w("- Checked against etcd: every key its values were written with is in the config\n")
	} else {
		w("- Not checked against etcd (it could not be reached): every key found on the node is kept\n")
	}
}

func reviewCerts(w writer, c *CertsResult) {
	if c == nil {
		return
	}
	w("## Certificates (mode %s)\n\n", c.Mode)
	if g := c.Generated; g != nil && len(g.Issued) > 0 {
		w("Generated: %s.\n\n", strings.Join(g.Issued, ", "))
	} else {
		w("No certificate generated: the files in place pass their checks.\n\n")
	}
	if c.Generated != nil {
		for _, n := range c.Generated.Notes {
			w("- Note: %s\n", n)
		}
		if len(c.Generated.Notes) > 0 {
			w("\n")
		}
	}
	w("| Pair | Certificate | Key |\n|---|---|---|\n")
	for _, p := range c.Pairs {
		w("| %s | `%s` | `%s` |\n", p.Name, p.Cert.ContainerPath, p.Key.ContainerPath)
	}
	w("\n")
	var warn []certs.Check
	for _, ch := range c.After {
		if ch.Status != certs.Pass {
			warn = append(warn, ch)
		}
	}
	if len(warn) > 0 {
		w("Checks of the planned certificates that are not a pass:\n\n")
		for _, ch := range warn {
			w("- %s %s (%s): %s\n", ch.Status, ch.Pair, ch.Name, ch.Message)
		}
		w("\n")
	}
}

func reviewChecks(w writer, before, after []audit.Check) {
	if len(before) == 0 && len(after) == 0 {
		return
	}
	w("## CIS checks before and after\n\n| Check | Title | Before | After | Found after the plan |\n|---|---|---|---|---|\n")
	byID := map[string]audit.Check{}
	for _, c := range after {
		byID[c.ID] = c
	}
	for _, c := range before {
		a, ok := byID[c.ID]
		status, detail := "—", ""
		if ok {
			status, detail = string(a.Status), a.Detail
		}
		w("| %s | %s | %s | %s | %s |\n", c.ID, cell(c.Title), c.Status, status, cell(detail))
	}
	w("\n")
}

// cell makes text safe for one Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}
