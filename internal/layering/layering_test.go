package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the project's import path; the rules below name packages relative to it.
const module = "github.com/etcd-harden/etcd-harden"

// stepPackages are the wizard's step packages, relative to module. Other ui/ packages
// (ui/step, ui/steptest, the shared views of ui/view) are not steps.
var stepPackages = []string{"ui/preflight", "ui/encryption", "ui/certs", "ui/review", "ui/backup", "ui/summary", "ui/preview"}

// rule forbids the packages that from matches to import those that banned matches:
// directly, or through any chain of imports when transitive is set.
type rule struct {
	name       string
	from       func(pkg string) bool
	banned     func(pkg string) bool
	transitive bool
}

var rules = []rule{
	{
		name:       "steps imports no terminal UI, renderer, wizard or lab",
		from:       matches(own("steps")...),
		banned:     matches(append(own("ui", "render", "lab"), "charm.land/bubbletea", "charm.land/bubbles", "charm.land/lipgloss", "charm.land/huh")...),
		transitive: true,
	},
	{
		name:       "ui imports no lab",
		from:       matches(own("ui")...),
		banned:     matches(own("lab")...),
		transitive: true,
	},
	{
		name:   "nothing outside ui imports a ui step package",
		from:   func(pkg string) bool { return !matches(own("ui")...)(pkg) },
		banned: matches(own(stepPackages...)...),
	},
}

func TestImportRules(t *testing.T) {
	g := load(t)
	for _, p := range stepPackages {
		if _, ok := g[module+"/"+p]; !ok {
			t.Errorf("step package %s is not in the build: update stepPackages", p)
		}
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			var broken []string
			for _, pkg := range g.packages() {
				if !r.from(pkg) {
					continue
				}
				for _, chain := range g.chains(pkg, r.banned, r.transitive) {
					broken = append(broken, strings.Join(chain, " → "))
				}
			}
			for _, b := range broken {
				t.Errorf("forbidden import: %s", b)
			}
		})
	}
}

// TestChains checks the checker on a small graph: a rule that finds nothing must be
// able to find something.
func TestChains(t *testing.T) {
	g := graph{
		"a": {"b", "x"},
		"b": {"c", "std"},
		"c": {"bad/v2/sub", "x"},
		"x": {"bad"},
	}
	banned := matches("bad")
	got := fmt.Sprint(g.chains("a", banned, true))
	if want := "[[a x bad] [a b c bad/v2/sub]]"; got != want {
		t.Errorf("transitive chains from a = %s, want %s", got, want)
	}
	if got := g.chains("a", banned, false); got != nil {
		t.Errorf("direct chains from a = %v, want none", got)
	}
	if got := fmt.Sprint(g.chains("x", banned, false)); got != "[[x bad]]" {
		t.Errorf("direct chains from x = %s, want [[x bad]]", got)
	}
}

// graph maps each package of the build (the project's, their dependencies and the
// standard library) to what it imports directly.
type graph map[string][]string

// load reads the import graph of every package of the module, tests left out.
func load(t *testing.T) graph {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("read go list's output: %v", err)
		}
		g[p.ImportPath] = p.Imports
	}
	if _, ok := g[module]; !ok {
		t.Fatalf("go list did not list %s: run the test inside the module", module)
	}
	return g
}

// packages lists the project's own packages, sorted.
func (g graph) packages() []string {
	var out []string
	for p := range g {
		if p == module || strings.HasPrefix(p, module+"/") {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// chains returns, for each package that banned matches and pkg reaches, a shortest
// import chain from pkg to it (importer first). Without transitive it looks at pkg's own
// imports only. A chain ends at the first banned package on it.
func (g graph) chains(pkg string, banned func(string) bool, transitive bool) [][]string {
	var out [][]string
	from := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range g[cur] {
			if _, seen := from[imp]; seen {
				continue
			}
			from[imp] = cur
			switch {
			case banned(imp):
				chain := []string{imp}
				for p := cur; p != ""; p = from[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				out = append(out, chain)
			case transitive:
				queue = append(queue, imp)
			}
		}
	}
	return out
}

// own turns dirs of the project into import paths.
func own(dirs ...string) []string {
	out := make([]string, len(dirs))
	for i, d := range dirs {
		out[i] = module + "/" + d
	}
	return out
}

// matches matches each of paths and the packages below it (so "charm.land/huh" is any
// major version of huh, and its subpackages).
func matches(paths ...string) func(string) bool {
	return func(pkg string) bool {
		return slices.ContainsFunc(paths, func(p string) bool { return pkg == p || strings.HasPrefix(pkg, p+"/") })
	}
}
