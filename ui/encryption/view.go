package encryption

import (
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	enc "github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// View implements step.Step.
func (p *Step) View(f step.Frame) string {
	p.SetDark(f.Dark)
	switch {
	case !p.located:
		return "Reading kube-apiserver's encryption config…"
	case p.a.provider == "":
		return f.R.Error(p.ErrorView(), f.Width)
	case p.Open():
		return step.WithForm(f.R.Facts(p.situation(), f.Width), p.FormView(), f.Height)
	case p.Err() != nil || p.res == nil:
		return join(f.R.Facts(p.situation(), f.Width),
			f.R.Error(p.ErrorView(), f.Width))
	}
	return p.planned(f)
}

func (p *Step) planned(f step.Frame) string {
	blocks := []string{f.R.Facts(append(p.situation(), p.resultFacts()...), f.Width)}
	if p.reveal == asking {
		blocks = append(blocks, f.R.Error(render.Error{
			What: "Show the new key on screen?",
			Fix:  "Anyone who sees it can read every Secret it encrypts. Press y to show it, n to keep it hidden.",
		}, f.Width))
	}
	if d := p.configDiff(); d != nil {
		title := "The config to be written, key masked:"
		blocks = append(blocks, title+"\n"+f.R.Diff(render.Diff{Files: []render.DiffFile{*d}}, f.Width))
	}
	if len(p.res.Warnings) > 0 {
		checks := make([]render.Check, len(p.res.Warnings))
		for i, w := range p.res.Warnings {
			checks[i] = render.Check{Title: w, Status: render.Warn}
		}
		blocks = append(blocks, f.R.Checks(checks, f.Width))
	}
	if len(p.res.RemainingSteps) > 0 {
		blocks = append(blocks, f.R.Summary(render.Summary{Todo: p.res.RemainingSteps}, f.Width))
	}
	return join(blocks...)
}

func join(blocks ...string) string { return strings.Join(blocks, "\n\n") }

// situation is what kube-apiserver has now.
func (p *Step) situation() []render.Fact {
	switch {
	case p.cur == nil:
		return []render.Fact{{Key: "current config", Value: "none: kube-apiserver.yaml has no --" + enc.ConfigFlag}}
	case p.cur.Missing:
		return []render.Fact{{Key: "current config", Value: p.cur.ContainerPath + " is named by --" + enc.ConfigFlag + " but does not exist"}}
	}
	facts := []render.Fact{
		{Key: "current config", Value: p.cur.HostPath},
		{Key: "providers", Value: p.providersText()},
	}
	first, ok := p.firstProvider()
	switch {
	case !ok || first.Type == enc.Identity:
		facts = append(facts, render.Fact{Key: "secrets", Value: "stored in plaintext"})
	case p.encryptsWell():
		facts = append(facts, render.Fact{Key: "secrets", Value: "encrypted with " + string(first.Type) + ", a recommended provider"})
	default:
		label, _, _ := enc.ProviderInfo(first.Type)
		facts = append(facts, render.Fact{Key: "secrets", Value: "encrypted with " + label + ", not a recommended provider"})
	}
	return facts
}

// situationText is the situation as plain text, for the accessible form's first note.
func (p *Step) situationText() string { return plain.New().Facts(p.situation(), 0) }

var actionText = map[enc.Action]string{
	enc.ActionNew:     "new config",
	enc.ActionRotated: "rotate: the new key first, old keys kept for reads",
	enc.ActionKept:    "keep: the config already encrypts; nothing to change",
	enc.ActionRetired: "retire: old keys no value in etcd uses are removed; nothing else changes",
}

// resultFacts are what the plan does.
func (p *Step) resultFacts() []render.Fact {
	r := p.res
	label, guidance, _ := enc.ProviderInfo(r.Provider)
	facts := []render.Fact{
		{Key: "action", Value: actionText[r.Action]},
		{Key: "provider", Value: label},
		{Key: "guidance", Value: guidance},
		{Key: "resources", Value: strings.Join(r.Resources, ", ")},
	}
	switch {
	case r.Provider == enc.KMS:
		facts = append(facts, render.Fact{Key: "kms plugin", Value: r.KeyName + " at " + p.a.kmsEndpoint})
	case r.KeyName != "":
		facts = append(facts, render.Fact{Key: "key name", Value: r.KeyName})
	}
	if !r.Key.IsZero() {
		if p.reveal == shown {
			facts = append(facts, render.Fact{Key: "key", Value: r.Key.Reveal()})
		} else {
			facts = append(facts, render.Fact{Key: "key", Value: r.Key.String(), Masked: true})
		}
	}
	facts = append(facts, render.Fact{Key: "config file", Value: r.ConfigFile},
		render.Fact{Key: "--" + enc.ConfigFlag, Value: r.ConfigPath})
	if len(r.OldKeys) > 0 {
		facts = append(facts, render.Fact{Key: "old keys, kept for reads", Value: strings.Join(r.OldKeys, ", ")})
	}
	if len(r.RetiredKeys) > 0 {
		facts = append(facts, render.Fact{Key: "retired keys (no value uses them)", Value: strings.Join(r.RetiredKeys, ", ")})
	}
	reload := "no"
	if p.a.autoReload {
		reload = "yes"
	}
	return append(facts, render.Fact{Key: "automatic reload", Value: reload})
}

// configDiff shows the config to be written against the one there now, both with every
// secret masked; nil when the config is kept.
func (p *Step) configDiff() *render.DiffFile {
	r := p.res
	if r.Action == enc.ActionKept {
		return nil
	}
	rel := p.configRel
	old, from := "", "/dev/null"
	if p.hasConfig() && (r.Action == enc.ActionRotated || r.Action == enc.ActionRetired) {
		old, from = p.cur.Config.MaskedYAML(""), "a/"+rel
	}
	// Context covering the whole file: the user reviews the config, not just the change.
	text, err := udiff.ToUnified(from, "b/"+rel, old, udiff.Lines(old, r.ConfigYAML), strings.Count(r.ConfigYAML, "\n")+1)
	if err != nil {
		text = r.ConfigYAML
	}
	d := &render.DiffFile{Path: rel, Mode: "0600", New: r.Action == enc.ActionNew, Text: text}
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
		case strings.HasPrefix(l, "+"):
			d.Added++
		case strings.HasPrefix(l, "-"):
			d.Removed++
		}
	}
	return d
}
