package commands

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"charm.land/bubbles/v2/help"
	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"

	"github.com/etcd-harden/etcd-harden/render"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/render/tui"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/ui"
)

// globalOptions are the flags every command shares. They follow the ecosystem: kubeadm's
// folders and etcdctl's own connection flags and ETCDCTL_* variables.
type globalOptions struct {
	root, manifestsDir, pkiDir string
	// etcd is etcdctl's connection flags; resolve completes them with the ETCDCTL_*
	// variables.
	etcd    etcdconn.Conn
	plain   bool
	answers string
	yes     bool
}

func (g *globalOptions) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&g.root, "root", "/", "Prefix of the node's file system (the lab and tests point it at a folder)")
	f.StringVar(&g.manifestsDir, "manifests-dir", "", "Folder of the static pod manifests (default <root>/etc/kubernetes/manifests)")
	f.StringVar(&g.pkiDir, "pki-dir", "", "Folder of the etcd certificates (default <root>/etc/kubernetes/pki/etcd)")
	f.StringSliceVar(&g.etcd.Endpoints, "endpoints", nil, "Client URLs of etcd (default $ETCDCTL_ENDPOINTS)")
	f.StringVar(&g.etcd.CACert, "cacert", "", "Trust bundle (the CA) for etcd's server certificate (default $ETCDCTL_CACERT)")
	f.StringVar(&g.etcd.Cert, "cert", "", "Client certificate for etcd (default $ETCDCTL_CERT)")
	f.StringVar(&g.etcd.Key, "key", "", "Client key for etcd (default $ETCDCTL_KEY)")
	f.BoolVar(&g.plain, "plain", false, "Plain text, no colours or terminal UI (also with NO_COLOR, TERM=dumb or no terminal)")
}

// registerAnswers adds --answers to a command that runs the wizard.
func (g *globalOptions) registerAnswers(cmd *cobra.Command) {
	cmd.Flags().StringVar(&g.answers, "answers", "", "Answers to the wizard's questions: a YAML file, by key (for scripted runs; see README)")
	cmd.Flags().BoolVar(&g.yes, "yes", false, "Assume yes to the acts that write: apply the plan, write the backup schedule files, the lab's Secret rewrite (--answers may still say no). End of input aborts all the same")
}

// resolve fills what the flags left out: etcdctl's variables and the folders under root.
func (g *globalOptions) resolve() error {
	g.etcd = etcdconn.FromCommandLine(g.etcd, os.Getenv)
	root, err := filepath.Abs(g.root)
	if err != nil {
		return &usageError{fmt.Errorf("--root %s: %w", g.root, err)}
	}
	// A folder flag that names a file is a flag mistake: say what it is (exit 2).
	for _, f := range []struct {
		kind discover.Folder
		path string
	}{{discover.RootFolder, root}, {discover.ManifestsFolder, g.manifestsDir}, {discover.PKIFolder, g.pkiDir}} {
		if f.path == "" {
			continue
		}
		if err := discover.CheckFolder(f.kind, f.path); err != nil {
			return &usageError{err}
		}
	}
	g.root = root
	return nil
}

// layout says where the node's files are.
func (g *globalOptions) layout() discover.Layout {
	return discover.Defaults(g.root, g.manifestsDir, g.pkiDir)
}

// usePlain decides the backend: plain when asked, when NO_COLOR or TERM=dumb is set, or
// when either end is not a terminal.
func (g *globalOptions) usePlain(in io.Reader, out io.Writer) bool {
	return render.UsePlain(isTerminal(in) && isTerminal(out), g.plain, os.Getenv)
}

func (g *globalOptions) uiOptions(in io.Reader, out io.Writer) (ui.Options, error) {
	o := ui.Options{
		Layout:        g.layout(),
		Plain:         g.usePlain(in, out),
		PlainRenderer: plain.New(),
		Theme:         tuiTheme,
		In:            in,
		Out:           out,
		Etcd:          g.etcd,
		Yes:           g.yes,
	}
	if g.answers != "" {
		answers, err := ui.LoadAnswers(g.answers)
		if err != nil {
			return o, &usageError{err}
		}
		o.Answers = answers
	}
	return o, nil
}

// renderer picks the backend for commands that print once (audit, certs check).
func (g *globalOptions) renderer(out io.Writer) render.Renderer {
	if g.plainOn(out) {
		return plain.New()
	}
	return tui.New(tui.ThemeFor(true))
}

// progress shows a long task's progress on w: one line redrawn in place on a terminal,
// plain lines when plainOn says so.
func (g *globalOptions) progress(w io.Writer) *render.Progress {
	return render.NewProgress(w, !g.plainOn(w))
}

// plainOn says whether out takes plain text only: --plain, NO_COLOR, TERM=dumb or not a
// terminal.
func (g *globalOptions) plainOn(out io.Writer) bool {
	return render.UsePlain(isTerminal(out), g.plain, os.Getenv)
}

// tuiTheme gives the wizard's shell its renderer and help styles.
func tuiTheme(isDark bool) (render.Renderer, help.Styles) {
	return tui.New(tui.ThemeFor(isDark)), help.DefaultStyles(isDark)
}

func isTerminal(v any) bool {
	f, ok := v.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(f.Fd())
}

// etcdConn says how to reach etcd: etcdctl's flags and variables when given, the rest
// from the manifests under --root (optional when the flags say it all). The state is nil
// when the manifests could not be read.
func (g *globalOptions) etcdConn() (etcdconn.Conn, *discover.State, error) {
	st, loadErr := discover.Load(g.layout())
	if loadErr != nil {
		st = nil
	}
	conn, err := etcdconn.Resolve(g.etcd, st)
	if err != nil && loadErr != nil {
		return conn, nil, fmt.Errorf("%w; or pass --endpoints (with --cacert, --cert and --key for https)", loadErr)
	}
	return conn, st, err
}

// report is the start of a command that reports on a node: the output format checked,
// the shared flags resolved, the node's manifests read.
func (g *globalOptions) report(output string) (*discover.State, error) {
	if err := checkOutput(output); err != nil {
		return nil, err
	}
	if err := g.resolve(); err != nil {
		return nil, err
	}
	return discover.Load(g.layout())
}
