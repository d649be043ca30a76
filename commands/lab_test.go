package commands

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/clitest"
)

// TestLabEnvAfterHardening: what the lab prints when it ends is etcd as the wizard left
// it (https and the client pair), not as it was at start.
func TestLabEnvAfterHardening(t *testing.T) {
	l := clitest.StartLab(t)
	root := l.Root()
	httpURL := l.Endpoint()
	var before bytes.Buffer
	printLabEnv(&before, l, "now")
	if !strings.Contains(before.String(), "export ETCDCTL_ENDPOINTS='"+httpURL+"'") || strings.Contains(before.String(), "ETCDCTL_CERT") {
		t.Fatalf("at start:\n%s", before.String())
	}
	if out, errOut, err := execute(t, "apply", "--root", root, "--plan", clitest.SavedPlan(t, root), "--yes", "--timeout", "60s"); err != nil {
		t.Fatalf("apply: %v\n%s%s", err, out, errOut)
	}
	var after bytes.Buffer
	printLabEnv(&after, l, "at exit")
	httpsURL := strings.Replace(httpURL, "http://", "https://", 1)
	for _, want := range []string{
		"lab: at exit etcd answers on " + httpsURL + " (pid ",
		"export ETCDCTL_ENDPOINTS='" + httpsURL + "'",
		"export ETCDCTL_CACERT='" + filepath.Join(root, "etc/kubernetes/pki/etcd/ca.crt") + "'",
		"export ETCDCTL_CERT='" + filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.crt") + "'",
		"export ETCDCTL_KEY='" + filepath.Join(root, "etc/kubernetes/pki/apiserver-etcd-client.key") + "'",
	} {
		if !strings.Contains(after.String(), want) {
			t.Errorf("at exit the lab prints no %q:\n%s", want, after.String())
		}
	}
}
