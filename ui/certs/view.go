package certs

import (
	"slices"
	"strings"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	dcerts "github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// View implements step.Step.
func (p *Step) View(f step.Frame) string {
	p.SetDark(f.Dark)
	switch {
	case !p.loaded:
		return "Reading the certificates…"
	case p.found == nil:
		return f.R.Error(p.ErrorView(), f.Width)
	case p.Open():
		return step.WithForm(f.R.Checks(p.rows(p.current(), p.checks), f.Width), p.FormView(), f.Height)
	case p.working:
		return join(f.R.Checks(p.rows(p.current(), p.checks), f.Width), "Generating keys and certificates…")
	}
	blocks := []string{f.R.Facts(p.answerFacts(), f.Width)}
	switch {
	case p.Err() != nil:
		blocks = append(blocks, "As the files are now:", p.checksView(f, p.current(), p.checks),
			f.R.Error(p.ErrorView(), f.Width))
	case p.planned != nil:
		if g := p.generatedNow(); g != nil && len(g.Notes) > 0 {
			blocks = append(blocks, f.R.Summary(render.Summary{Notes: g.Notes}, f.Width))
		}
		title := "As the plan leaves them:"
		if p.a.mode == harden.CertsExisting {
			title = "As the files are now (mode existing uses them as they are):"
		}
		blocks = append(blocks, title, p.checksView(f, p.made.certs.Pairs, p.planned))
		if !p.ok {
			blocks = append(blocks, f.R.Error(render.Error{
				What: plural(failures(p.planned), "check") + " would fail with these answers",
				Fix:  "press e to change the answers: choose auto or generate to make what is missing, or point a pair at working files",
			}, f.Width))
		}
	}
	return join(blocks...)
}

func join(blocks ...string) string { return strings.Join(blocks, "\n\n") }

// answerFacts are the answers and what they made.
func (p *Step) answerFacts() []render.Fact {
	facts := []render.Fact{{Key: "mode", Value: string(p.a.mode)}}
	if p.a.mode != harden.CertsExisting {
		facts = append(facts,
			render.Fact{Key: "key type", Value: string(p.a.keyType)},
			render.Fact{Key: "node name", Value: p.a.nodeName},
			render.Fact{Key: "advertise IP", Value: p.a.advertiseIP})
	}
	if g := p.generatedNow(); g != nil {
		issued := "nothing: every pair passes its checks"
		if len(g.Issued) > 0 {
			issued = strings.Join(g.Issued, ", ")
		}
		facts = append(facts, render.Fact{Key: "generated", Value: issued})
		if g.NewCA {
			facts = append(facts, render.Fact{Key: "new etcd CA", Value: "yes: every etcd certificate is issued by it"})
		}
	}
	return facts
}

// checksView is one line per pair and, under them, every check that did not pass.
func (p *Step) checksView(f step.Frame, pairs []dcerts.Pair, checks []dcerts.Check) string {
	out := f.R.Checks(p.rows(pairs, checks), f.Width)
	if d := details(checks); len(d) > 0 {
		out += "\n\n" + f.R.Checks(d, f.Width)
	}
	return out
}

// rows sums up each pair: its files, where their paths came from, and its worst check.
func (p *Step) rows(pairs []dcerts.Pair, checks []dcerts.Check) []render.Check {
	out := make([]render.Check, 0, len(pairs))
	for _, pr := range pairs {
		status := render.Pass
		var passed []string
		for _, c := range checks {
			if c.Pair != pr.Name {
				continue
			}
			switch c.Status {
			case dcerts.Pass:
				if !slices.Contains(passed, c.Name) {
					passed = append(passed, c.Name)
				}
			case dcerts.Warn:
				if status == render.Pass {
					status = render.Warn
				}
			case dcerts.Fail:
				status = render.Fail
			}
		}
		detail := "key " + p.file(pr.Key)
		if len(passed) > 0 {
			detail += " · pass: " + strings.Join(passed, ", ")
		}
		out = append(out, render.Check{
			Title:  pairLabel(pr) + ": " + p.file(pr.Cert),
			Status: status, Detail: detail,
		})
	}
	return out
}

// file is a file's node path and where the path came from.
func (p *Step) file(f dcerts.File) string {
	return p.node(f.Path) + " (" + string(f.Source) + ")"
}

// details are the checks that did not pass, with what to do.
func details(checks []dcerts.Check) []render.Check {
	var out []render.Check
	for _, c := range checks {
		if c.Status == dcerts.Pass {
			continue
		}
		msg := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(c.Message), c.Fix))
		msg = strings.TrimRight(msg, ":;,.— ")
		out = append(out, render.Check{ID: c.Name, Title: c.Pair + ": " + msg, Status: render.Status(c.Status), Fix: c.Fix})
	}
	return out
}

// situationText is the pairs as found, as plain text, for the accessible form's note.
func (p *Step) situationText() string {
	return plain.New().Checks(p.rows(p.current(), p.checks), 0)
}

// pairLabel names a pair, with its role when the name does not say it ("ca", "server").
func pairLabel(pr dcerts.Pair) string {
	if pr.Name == string(pr.Role) {
		return pr.Name
	}
	return pr.Name + " (" + string(pr.Role) + ")"
}
