package certs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"charm.land/huh/v2"

	dcerts "github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

var modeOptions = []huh.Option[harden.CertsMode]{
	huh.NewOption("auto — generate what is missing or failing (recommended)", harden.CertsAuto),
	huh.NewOption("existing — use the files as they are; refused if a check fails", harden.CertsExisting),
	huh.NewOption("generate — new server, peer and client certificates; the CA is kept when its key is there", harden.CertsGenerate),
}

var keyTypeOptions = []huh.Option[dcerts.KeyType]{
	huh.NewOption("ECDSA P-256 (recommended: small, fast, what kubeadm can use)", dcerts.ECDSAP256),
	huh.NewOption("RSA 2048 (for tools that cannot read ECDSA keys)", dcerts.RSA2048),
}

// formFor builds the questions whose answers are not known: those not preset, or all of
// them when editing. intro is set for the accessible form: the situation written out,
// since the plain driver shows no view before the form.
func (p *Step) formFor(ask func(key string) bool, intro string) *huh.Form {
	g := &step.Groups{Intro: intro}
	existing := func() bool { return p.a.mode == harden.CertsExisting }
	// Questions about generation are not asked when "existing" was given in advance.
	askGen := func(k string) bool { return ask(k) && (ask(KeyMode) || !existing()) }
	asked := false
	if ask(KeyMode) {
		asked = true
		g.Add(nil, huh.NewSelect[harden.CertsMode]().Key(KeyMode).Title("Certificates").
			Description("Generated files follow kubeadm: an etcd CA for 10 years, leaf certificates for 1 year.").
			Options(modeOptions...).Value(&p.a.mode))
	}
	var gen []huh.Field
	if askGen(KeyKeyType) {
		gen = append(gen, huh.NewSelect[dcerts.KeyType]().Key(KeyKeyType).Title("Key type of new keys").
			Options(keyTypeOptions...).Value(&p.a.keyType))
	}
	if askGen(KeyNodeName) {
		gen = append(gen, huh.NewInput().Key(KeyNodeName).Title(g.Titled("Node name", p.a.nodeName)).
			Description("CN and SAN of the server and peer certificates; etcd.yaml --name by default.").
			Validate(func(v string) error {
				// Accessible mode checks the raw line: empty keeps the value shown.
				if strings.TrimSpace(v) == "" && p.a.nodeName == "" {
					return errors.New("the node name is needed")
				}
				return validName(v)
			}).Value(&p.a.nodeName))
	}
	if askGen(KeyAdvertiseIP) {
		gen = append(gen, huh.NewInput().Key(KeyAdvertiseIP).Title(g.Titled("Advertise IP", p.a.advertiseIP)).
			Description("IP SAN of the server and peer certificates; from --advertise-client-urls by default.").
			Validate(validIP).Value(&p.a.advertiseIP))
	}
	if len(gen) > 0 {
		asked = true
		g.Add(existing, gen...)
	}
	if asked {
		p.pathPair, p.pathCert, p.pathKey = "", "", ""
		g.Add(nil, huh.NewSelect[string]().Title("Change a path?").
			Description("Point a pair at other files on the node; the paths above come from the manifests or kubeadm's layout.").
			Options(p.pathOptions()...).Value(&p.pathPair))
		g.Add(func() bool { return p.pathPair == "" },
			huh.NewInput().Title("Certificate file (path on the node; empty keeps it)").Validate(p.validPath).
				Suggestions(p.pathSuggestions(".crt", ".pem")).Value(&p.pathCert),
			huh.NewInput().Title("Key file (path on the node; empty keeps it)").Validate(p.validPath).
				Suggestions(p.pathSuggestions(".key", "-key.pem")).Value(&p.pathKey))
	}
	return g.Form("What etcd has now")
}

func (p *Step) pathOptions() []huh.Option[string] {
	opts := []huh.Option[string]{huh.NewOption("no, keep these paths", "")}
	for _, pr := range p.current() {
		opts = append(opts, huh.NewOption(pr.Name+" — "+p.node(pr.Cert.Path), pr.Name))
	}
	return opts
}

// validPath accepts an empty answer (keep the file) or a node path whose file exists
// under the root.
func (p *Step) validPath(v string) error {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return nil
	case !strings.HasPrefix(v, "/"):
		return errors.New("give the path as on the node, starting with /")
	}
	if _, err := os.Stat(p.layout.Host(v)); err != nil {
		return fmt.Errorf("%s: no such file under %s", v, p.layout.Root)
	}
	return nil
}

// pathSuggestions lists the files under the node's /etc/kubernetes/pki with one of the
// suffixes, as node paths, for the path inputs' completion (tab accepts one).
func (p *Step) pathSuggestions(suffixes ...string) []string {
	var out []string
	pki := p.layout.Host("/etc/kubernetes/pki")
	_ = filepath.WalkDir(pki, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || len(out) >= 200 {
			return nil
		}
		for _, suf := range suffixes {
			if strings.HasSuffix(d.Name(), suf) {
				out = append(out, "/"+p.layout.Rel(path))
				break
			}
		}
		return nil
	})
	return out
}

// takePath records the path the form's "change a path?" question chose.
func (p *Step) takePath() {
	if p.pathPair == "" {
		return
	}
	if c := strings.TrimSpace(p.pathCert); c != "" {
		p.a.choose(p.pathPair, "cert", c)
	}
	if k := strings.TrimSpace(p.pathKey); k != "" {
		p.a.choose(p.pathPair, "key", k)
	}
	p.pathPair, p.pathCert, p.pathKey = "", "", ""
}
