package preflight_test

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/ui/preflight"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

var countLine = regexp.MustCompile(`^(\d+) of (\d+) checks fails?: etcd serves plain http, Secrets are stored in plaintext`)

// TestViewOpensOnTheCount: the preflight screen opens on the count of failures, before
// the list, and the count is the list's, in both backends and at every width.
func TestViewOpensOnTheCount(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	s := steptest.Session(t, root, nil)
	st := preflight.New()
	if errs := steptest.Drive(t, st, s, st.Init(s)); len(errs) > 0 {
		t.Fatalf("preflight failed: %+v", errs)
	}
	for name, view := range steptest.Views(st, 0, 60, 100) {
		first := strings.Join(strings.Fields(strings.SplitN(view, "\n\n", 2)[0]), " ") // unwrap
		m := countLine.FindStringSubmatch(stripANSI(first))
		if m == nil {
			t.Errorf("%s: the view does not open on the count of failures:\n%s", name, view)
			continue
		}
		mark := "[FAIL]"
		if strings.HasPrefix(name, "tui") {
			mark = "✗"
		}
		fails, total := atoi(m[1]), atoi(m[2])
		if got := strings.Count(view, mark); got != fails {
			t.Errorf("%s: the count says %d fail, the list shows %d:\n%s", name, fails, got, view)
		}
		if total != len(s.Checks) {
			t.Errorf("%s: the count says %d checks, preflight ran %d", name, total, len(s.Checks))
		}
		if strings.Index(view, m[1]+" of ") > strings.Index(view, mark) {
			t.Errorf("%s: the count comes after the list", name)
		}
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func stripANSI(s string) string { return ansiRE.ReplaceAllString(s, "") }

// TestClusterNodeWithEtcdDown: on a node of a cluster given no bundle, preflight asks the
// cluster whether a member serves TLS already; when etcd does not answer, it cannot
// tell, and lets the node go on as the first (the apply checks again, with etcd up).
func TestClusterNodeWithEtcdDown(t *testing.T) {
	root := steptest.Root(t, "unhardened")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close() // nothing listens there now
	path := filepath.Join(root, "etc", "kubernetes", "manifests", "etcd.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data = []byte(strings.NewReplacer(
		"--initial-cluster=node1=http://127.0.0.1:2380", "--initial-cluster=node1=http://127.0.0.1:2380,node2=http://127.0.0.2:2380",
		"127.0.0.1:2379", "127.0.0.1:"+port).Replace(string(data)))
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := steptest.Session(t, root, map[string]string{preflight.KeyBundle: ""})
	st := preflight.New()
	if errs := steptest.Drive(t, st, s, st.Init(s)); len(errs) > 0 {
		t.Fatalf("preflight refused with etcd down: %+v", errs)
	}
	if !st.Ready() || s.Bundle != nil {
		t.Fatalf("ready %v, bundle %v; want ready with no bundle", st.Ready(), s.Bundle)
	}
	if v := steptest.Views(st, 100)["plain_100"]; !strings.Contains(v, "cluster bundle: none: this is the first node") {
		t.Errorf("the view does not say this is taken as the first node:\n%s", v)
	}
}
