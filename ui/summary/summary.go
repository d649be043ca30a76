// Package summary is the wizard's last step: what was written (with modes), what the
// user must still do, and where the review is. In the lab it also offers the Secret
// rewrite that kube-apiserver would do, with the encryption status before and after.
package summary

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// AnswerRewrite is the answer key that runs the lab's Secret rewrite ("true").
const AnswerRewrite = "summary.rewrite"

var rewriteKey = key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "rewrite Secrets (lab)"))

// Step is the summary.
type Step struct {
	summary render.Summary
	lab     step.Lab
	applied bool // the review step applied the plan

	rewriting bool
	status    *encryption.StatusReport // after an apply: how etcd holds the values now
	statusErr error
	before    *encryption.StatusReport
	after     *encryption.StatusReport
	err       error
}

// New returns the summary step.
func New() *Step { return &Step{} }

type rewriteDone struct {
	before, after *encryption.StatusReport
	err           error
}

// Title implements step.Step.
func (m *Step) Title() string { return "Summary" }

// Intro implements step.Step.
func (m *Step) Intro() string { return "What was written, and what is left to you." }

// Init implements step.Step.
func (m *Step) Init(s *step.Session) tea.Cmd {
	m.summary = Build(s, time.Now())
	m.lab, m.applied = s.Lab, s.Review != nil && s.Review.Action == review.ActionApply
	if v, _ := s.Answer(AnswerRewrite); v == "true" && m.canRewrite() {
		return m.startRewrite()
	}
	m.status, m.statusErr = s.Status, s.StatusErr
	return nil
}

// Build gathers the summary from what the earlier steps left in the session.
func Build(s *step.Session, now time.Time) render.Summary {
	sum := render.Summary{Title: "Nothing was written"}
	res := s.Review
	if res != nil {
		switch res.Action {
		case review.ActionApply:
			sum.Title = "The node is hardened"
			for _, d := range res.Written {
				sum.Written = append(sum.Written, render.Fact{Key: "/" + d.Path, Value: fmt.Sprintf("%04o", d.Mode.Perm())})
			}
			sum.Notes = append(sum.Notes, "Backups of the replaced files: "+res.BackupDir+" (undo with: etcd-harden rollback "+res.BackupDir+")")
			if s.Rollout != nil {
				sum.Title = "This node is hardened as far as the cluster allows now"
				sum.Notes = append(sum.Notes, rolloutTable(s)...)
			}
		case review.ActionSave:
			sum.Title = "The plan is saved for review"
			sum.Notes = append(sum.Notes, "Review: "+filepath.Join(res.SavedDir, "REVIEW.md"),
				"Apply it later on this node: etcd-harden apply --plan "+res.SavedDir)
		}
	}
	sum.Todo = todo(s, res, now)
	return sum
}

// todo lists what the user must still do, in order.
func todo(s *step.Session, res *step.ReviewResult, now time.Time) []string {
	var out []string
	switch {
	case res != nil && res.Action == review.ActionSave:
		out = append(out, "Review changes.patch and REVIEW.md, then run etcd-harden apply --plan "+res.SavedDir+" (or apply the patch and copy secrets/ into place).")
	case res == nil || res.Action != review.ActionApply:
		// Neither applied nor saved: the plan's follow-up steps (restart, rewrite the
		// Secrets, back up a key that was never written) do not apply to this node.
		if s.Plan != nil && !s.Plan.Empty() {
			out = append(out, "Nothing on this node changed. When you are ready, run etcd-harden again, or etcd-harden plan --out DIR to review the changes as a patch first.")
		}
		return append(out, afterAll(s, res, now)...)
	}
	switch {
	case s.Rollout != nil && s.Bundle != nil:
		out = append(out, "Next: "+s.Rollout.Next(),
			"This node's plan uses the bundle in "+s.Bundle.Dir+"; here again: etcd-harden apply --plan "+s.RolloutPlan+".")
	case s.Rollout != nil:
		out = append(out, "Next: "+s.Rollout.Next(),
			"On every other node: copy "+filepath.Join(s.RolloutPlan, "bundle")+" there (scp -rp, root only), then run the wizard there and give that folder as the cluster bundle (or etcd-harden plan --bundle DIR --out PLAN and etcd-harden apply --plan PLAN); here again: etcd-harden apply --plan "+s.RolloutPlan+".")
	default:
		out = append(out, "On HA control planes: harden one node at a time, etcd first; wait for `etcdctl endpoint health --cluster` before the next node, then restart kube-apiserver.")
	}
	if enc := s.Encryption; enc != nil {
		out = append(out, enc.RemainingSteps...)
		if enc.Action != encryption.ActionKept && enc.Provider != encryption.KMS {
			out = append(out, "Back up the encryption config ("+enc.ConfigPath+") offsite, apart from etcd snapshots: without the key a snapshot's Secrets cannot be read.")
		}
	}
	return append(out, afterAll(s, res, now)...)
}

// afterAll is what is left whatever the wizard did: snapshots offsite, and the date to
// renew the certificates before.
func afterAll(s *step.Session, res *step.ReviewResult, now time.Time) []string {
	var out []string
	switch b := s.Backup; {
	case b == nil || b.Report == nil:
		out = append(out, "Prove a backup works before you need it: etcd-harden snapshot test --dest /var/backups/etcd (the backup step was skipped).")
	case b.Report.Schedule != nil:
		out = append(out, "Copy etcd snapshots offsite, and install the schedule from the backup step so they keep coming.")
	default:
		out = append(out, "Take snapshots regularly and copy them offsite: etcd-harden snapshot test --schedule both shows a CronJob and a systemd timer to copy.")
	}
	if exp, name, ok := nextExpiry(s, res, now); ok {
		out = append(out, fmt.Sprintf("Renew the etcd certificates before %s (%s expires first, in %d days).",
			exp.Format("2006-01-02"), name, int(exp.Sub(now).Hours()/24)))
	}
	return out
}

// nextExpiry returns the soonest end of the etcd certificates: as they are on disk now,
// or, for a plan saved but not applied, as the plan leaves them (the disk may still hold
// certificates the plan replaces, or none).
func nextExpiry(s *step.Session, res *step.ReviewResult, now time.Time) (time.Time, string, bool) {
	if res != nil && res.Action == review.ActionSave {
		e, ok := harden.NextExpiry(&harden.Result{State: s.State, Plan: s.Plan, Certs: s.Certs})
		return e.NotAfter, e.Pair, ok
	}
	st, err := discover.Load(s.Layout)
	if err != nil {
		return time.Time{}, "", false
	}
	pairs := certs.Discover(st)
	rows := certs.Table(pairs, nil, now)
	sort.Slice(rows, func(i, j int) bool { return rows[i].Expires.Before(rows[j].Expires) })
	for _, r := range rows {
		if !r.Expires.IsZero() {
			return r.Expires, r.Name, true
		}
	}
	return time.Time{}, "", false
}

// canRewrite: the lab stands in for kube-apiserver once the encryption config is live.
func (m *Step) canRewrite() bool {
	return m.lab != nil && m.applied
}

func (m *Step) startRewrite() tea.Cmd {
	m.rewriting = true
	l := m.lab
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		before, after, err := l.Rewrite(ctx)
		return rewriteDone{before: before, after: after, err: err}
	}
}

// Update implements step.Step.
func (m *Step) Update(s *step.Session, msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case rewriteDone:
		m.rewriting = false
		m.before, m.after, m.err = msg.before, msg.after, msg.err
		if msg.err != nil {
			return step.Fail(msg.err, "check the encryption config that kube-apiserver.yaml names, then press w again")
		}
	case tea.KeyPressMsg:
		if key.Matches(msg, rewriteKey) && m.canRewrite() && !m.rewriting {
			return m.startRewrite()
		}
	}
	return nil
}

// View implements step.Step.
func (m *Step) View(f step.Frame) string {
	var b strings.Builder
	// The lab's rewrite comes first: it is what the user just asked for, and the
	// summary below it is long.
	switch {
	case m.rewriting:
		b.WriteString(wrap("Rewriting every Secret through the new encryption config…", f.Width) + "\n\n")
	case m.after != nil:
		b.WriteString(f.R.Facts([]render.Fact{
			{Key: "before", Value: statusLine(m.before)},
			{Key: "after", Value: statusLine(m.after)},
		}, f.Width))
		b.WriteString("\n" + wrap(m.lab.RewriteNote(), f.Width) + "\n\n")
	case m.status != nil:
		b.WriteString(f.R.Facts([]render.Fact{{Key: "in etcd now", Value: statusLine(m.status)}}, f.Width) + "\n\n")
	case m.statusErr != nil:
		b.WriteString(wrap("Could not count how etcd holds the values: "+m.statusErr.Error()+" (etcd-harden encryption status tries again).", f.Width) + "\n\n")
	}
	b.WriteString(f.R.Summary(m.summary, f.Width))
	if m.after == nil && !m.rewriting && m.canRewrite() {
		b.WriteString("\n" + wrap("In the lab, press w to rewrite every Secret the way kube-apiserver would after a restart (the lab's stand-in for `kubectl get secrets -A -o json | kubectl replace -f -`).", f.Width) + "\n")
	}
	return b.String()
}

// wrap fits text to width columns (0: no limit), breaking between words.
func wrap(text string, width int) string {
	if width <= 0 {
		return text
	}
	return lipgloss.NewStyle().Width(width).Render(text)
}

// statusLine says how values are stored, e.g. "240 values: 200 encrypted (secretbox:key-…), 40 plaintext".
func statusLine(r *encryption.StatusReport) string {
	if r == nil {
		return "-"
	}
	var keys []string
	for _, k := range r.Keys {
		keys = append(keys, fmt.Sprintf("%s ×%d", k.ID, k.Count))
	}
	line := fmt.Sprintf("%d values: %d encrypted, %d plaintext", r.Total, r.Encrypted, r.Plaintext)
	if len(keys) > 0 {
		line += " (" + strings.Join(keys, ", ") + ")"
	}
	return line
}

// Ready implements step.Step.
func (m *Step) Ready() bool { return !m.rewriting }

// Keys implements step.Step.
func (m *Step) Keys() []key.Binding {
	if m.canRewrite() && m.after == nil && !m.rewriting {
		return []key.Binding{rewriteKey}
	}
	return nil
}

// rolloutTable is the rollout as rows of node, phase and state, for the notes.
func rolloutTable(s *step.Session) []string {
	f := s.Rollout.Facts
	if f == nil {
		return nil
	}
	out := []string{fmt.Sprintf("%-8s %-36s %s", "node", "phase", "state")}
	for _, m := range f.Members {
		state := "up"
		if !m.Up {
			state = "down"
		}
		if m.Name == s.Rollout.Node {
			state += " (this node)"
		}
		out = append(out, fmt.Sprintf("%-8s %-36s %s", m.Name, m.Phase(), state))
	}
	return out
}
