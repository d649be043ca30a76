package backup

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"charm.land/huh/v2"

	"github.com/etcd-harden/etcd-harden/steps/offsite"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// Answer keys of the backup step.
const (
	// KeyDest is the folder snapshots go to: an absolute host path. Default
	// <root>/var/backups/etcd. It is made (mode 0700) when missing.
	KeyDest = "backup.dest"
	// KeySchedule is which schedule to show: none, cronjob, systemd or both. Default none.
	KeySchedule = "backup.schedule"
	// KeyKeep is how many snapshots the schedule keeps: an integer from 1 to 1000.
	// Default 7. Asked only with a schedule.
	KeyKeep = "backup.keep"
	// KeyWrite is true to write the schedule files into backup.dest after a passing test,
	// false to only show them. Default false. Asked only with a schedule.
	KeyWrite = "backup.write"
	// KeySkip is true to skip the step (no test snapshot), e.g. when etcd is not
	// reachable from where the wizard runs. Default false; never asked.
	KeySkip = "backup.skip"
	// KeyRehearse is when the restore rehearsal runs: auto (only when the member's KV hash
	// cannot prove the snapshot's content), always or never. Default auto; never asked.
	KeyRehearse = "backup.rehearse"
)

// AnswerKeys are the backup step's answer keys, for the answers file; see the Key*
// constants for each key's values.
var AnswerKeys = []string{KeyDest, KeyEncryptTo, KeyS3Endpoint, KeySchedule, KeyKeep, KeyWrite, KeySkip, KeyRehearse}

// answers are the step's answers, with which of them are known.
type answers struct {
	dest     string
	schedule string
	keepText string // the form edits text; keep is parsed from it
	keep     int
	write    bool
	skip     bool
	rehearse snapshot.Rehearsal
	// encryptTo are public keys, comma-separated; s3Endpoint the store (offsite.go).
	encryptTo, s3Endpoint string

	hasDest, hasSchedule, hasKeep, hasWrite, hasEncrypt bool
}

// DefaultDest is where snapshots go unless backup.dest says otherwise.
func DefaultDest(s *step.Session) string {
	return filepath.Join(s.Layout.Root, "var", "backups", "etcd")
}

// readAnswers takes the prefilled answers of s; a bad value is an error naming its key.
func readAnswers(s *step.Session) (answers, error) {
	a := answers{dest: DefaultDest(s), schedule: "none", keep: snapshot.DefaultKeep, keepText: strconv.Itoa(snapshot.DefaultKeep)}
	if v, ok := s.Answer(KeySkip); ok {
		b, err := parseBool(KeySkip, v)
		if err != nil {
			return a, err
		}
		a.skip = b
	}
	if v, ok := s.Answer(KeyRehearse); ok {
		if err := snapshot.CheckRehearsal(v); err != nil {
			return a, fmt.Errorf("%s %q: %w", KeyRehearse, v, err)
		}
		a.rehearse = snapshot.Rehearsal(v)
	}
	if v, ok := s.Answer(KeyDest); ok {
		if err := validDest(v); err != nil {
			return a, fmt.Errorf("%s %q: %w", KeyDest, v, err)
		}
		a.dest, a.hasDest = cleanDest(v), true
	}
	if v, ok := s.Answer(KeyEncryptTo); ok {
		if err := CheckEncryptTo(v); err != nil {
			return a, fmt.Errorf("%s: %w", KeyEncryptTo, err)
		}
		a.encryptTo, a.hasEncrypt = v, true
	}
	if v, ok := s.Answer(KeyS3Endpoint); ok {
		if err := CheckS3Endpoint(v); err != nil {
			return a, fmt.Errorf("%s %q: %w", KeyS3Endpoint, v, err)
		}
		a.s3Endpoint = v
	}
	if v, ok := s.Answer(KeySchedule); ok {
		if err := snapshot.CheckSchedule(v); err != nil {
			return a, fmt.Errorf("%s %q: %w", KeySchedule, v, err)
		}
		a.schedule, a.hasSchedule = v, true
	}
	if v, ok := s.Answer(KeyKeep); ok {
		n, err := parseKeep(v)
		if err != nil {
			return a, fmt.Errorf("%s %q: %w", KeyKeep, v, err)
		}
		a.keep, a.keepText, a.hasKeep = n, v, true
	}
	if v, ok := s.Answer(KeyWrite); ok {
		b, err := parseBool(KeyWrite, v)
		if err != nil {
			return a, err
		}
		a.write, a.hasWrite = b, true
	}
	return a, nil
}

// complete reports whether every answer the test needs is known.
func (a answers) complete() bool {
	if a.skip {
		return true
	}
	if !a.hasDest || !a.hasSchedule || offsite.IsURL(a.dest) && !a.hasEncrypt {
		return false
	}
	return a.schedule == "none" || (a.hasKeep && a.hasWrite)
}

// settle marks every answer known after a form ran, and parses keep.
func (a *answers) settle() error {
	if err := validDest(a.dest); err != nil {
		return fmt.Errorf("%s %q: %w", KeyDest, a.dest, err)
	}
	n, err := parseKeep(a.keepText)
	if err != nil {
		return fmt.Errorf("%s %q: %w", KeyKeep, a.keepText, err)
	}
	if err := CheckEncryptTo(a.encryptTo); err != nil {
		return fmt.Errorf("%s: %w", KeyEncryptTo, err)
	}
	if offsite.IsURL(a.dest) && strings.TrimSpace(a.encryptTo) == "" {
		return fmt.Errorf("%s: an s3:// destination needs at least one public key to seal to", KeyEncryptTo)
	}
	a.dest, a.keep = cleanDest(a.dest), n
	a.hasDest, a.hasSchedule, a.hasKeep, a.hasWrite, a.hasEncrypt = true, true, true, true, true
	return nil
}

// form asks the questions whose answers are unknown (all of them when all is true); nil
// when there are none. The fields write into a, so the same form serves the terminal UI
// and the plain driver, which runs it accessibly.
func (a *answers) form(all bool) *huh.Form {
	var first, sched []huh.Field
	if all || !a.hasDest {
		first = append(first, huh.NewInput().Key(KeyDest).
			Title(withDefault("Where should snapshots go?", a.dest)).
			Description("A folder on this node, outside etcd's data dir (made with mode 0700 when missing), or s3://BUCKET/PREFIX offsite.").
			Value(&a.dest).Validate(step.OrKept(&a.dest, validDest)))
	}
	var seal []huh.Field
	if all || !a.hasEncrypt {
		seal = append(seal, huh.NewInput().Key(KeyEncryptTo).
			Title("Seal snapshots to which public keys? (age1… or ssh-ed25519 …, comma-separated)").
			Description("The snapshot is encrypted with age before it leaves the node; keep the private key off this node.").
			Value(&a.encryptTo).Validate(func(v string) error {
			if strings.TrimSpace(v) == "" {
				return fmt.Errorf("an s3:// destination needs at least one public key")
			}
			return CheckEncryptTo(v)
		}))
	}
	if all || !a.hasSchedule {
		first = append(first, huh.NewSelect[string]().Key(KeySchedule).
			Title("Show a schedule for regular snapshots?").
			DescriptionFunc(a.scheduleDescription, &a.dest).
			Options(
				huh.NewOption("No", "none"),
				huh.NewOption("Kubernetes CronJob", "cronjob"),
				huh.NewOption("systemd service and timer", "systemd"),
				huh.NewOption("Both", "both"),
			).Value(&a.schedule))
	}
	if all || !a.hasSchedule || a.schedule != "none" {
		if all || !a.hasKeep {
			sched = append(sched, huh.NewInput().Key(KeyKeep).
				Title("How many snapshots should the schedule keep?").
				Description("The oldest are removed after each new one (only with a schedule).").
				Value(&a.keepText).Validate(func(v string) error { _, err := parseKeep(v); return err }))
		}
		if all || !a.hasWrite {
			sched = append(sched, huh.NewConfirm().Key(KeyWrite).
				Title("Write the schedule files into the destination folder?").
				DescriptionFunc(a.writeDescription, &a.dest).
				Affirmative("Write").Negative("Only show").
				Value(&a.write))
		}
	}
	var groups []*huh.Group
	if len(first) > 0 {
		groups = append(groups, huh.NewGroup(first...))
	}
	if len(seal) > 0 {
		local := func() bool { return !offsite.IsURL(a.dest) }
		for i, f := range seal {
			seal[i] = step.AskWhen(f, func() bool { return !local() })
		}
		groups = append(groups, huh.NewGroup(seal...).WithHideFunc(local))
	}
	if len(sched) > 0 {
		noSchedule := func() bool { return a.schedule == "none" }
		for i, f := range sched {
			sched[i] = step.AskWhen(f, func() bool { return !noSchedule() })
		}
		groups = append(groups, huh.NewGroup(sched...).WithHideFunc(noSchedule))
	}
	if len(groups) == 0 {
		return nil
	}
	// The shell's help bar shows the form's keys (Keys), so the form shows none itself.
	return huh.NewForm(groups...).WithShowHelp(false)
}

// scheduleDescription says what the schedule runs: etcdctl for a plain folder, etcd-harden
// itself when the snapshots are sealed or leave the node.
func (a *answers) scheduleDescription() string {
	if offsite.IsURL(a.dest) || strings.TrimSpace(a.encryptTo) != "" {
		return "Files to copy: they run etcd-harden snapshot save, which seals and ships each snapshot."
	}
	return "Files to copy: they run etcdctl, so they work without etcd-harden."
}

func (a *answers) writeDescription() string {
	if offsite.IsURL(a.dest) {
		return "Write: into /etc/etcd-harden, with a template of s3.env (mode 0600, empty values) for the store's keys. No: only show them here."
	}
	return "No: only show them here (only with a schedule)."
}

// withDefault names the default in a title: accessible prompts show the title only.
func withDefault(title, value string) string {
	if value == "" {
		return title
	}
	return title + " [" + value + "]"
}

// cleanDest cleans a folder path; an s3:// URL is kept as given.
func cleanDest(v string) string {
	if offsite.IsURL(v) {
		return v
	}
	return filepath.Clean(v)
}

func validDest(v string) error {
	if offsite.IsURL(v) {
		_, err := offsite.ParseURL(v)
		return err
	}
	switch {
	case strings.TrimSpace(v) == "":
		return fmt.Errorf("give a folder")
	case !filepath.IsAbs(v):
		return fmt.Errorf("give an absolute folder, e.g. /var/backups/etcd")
	}
	return nil
}

func parseKeep(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("give a whole number from 1 to 1000")
	}
	return n, nil
}

func parseBool(k, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "1":
		return true, nil
	case "false", "no", "n", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s %q: use true or false", k, v)
}
