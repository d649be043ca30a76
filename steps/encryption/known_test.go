package encryption

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/plan"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage/value"
)

const apiserverRel = "etc/kubernetes/manifests/kube-apiserver.yaml"

// oldConfig returns a config with one secretbox key named name (a fresh random key).
func oldConfig(t *testing.T, name string) *Config {
	t.Helper()
	d, err := decide(nil, opts(t, Options{KeyName: name}), mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return d.Config
}

func writeConfig(t *testing.T, path string, c *Config) {
	t.Helper()
	data, err := c.YAML("")
	if err != nil {
		t.Fatal(err)
	}
	write(t, path, string(data))
}

// dropFlag removes (or comments out) the --encryption-provider-config line of root's
// kube-apiserver.yaml; the config file stays where it is.
func dropFlag(t *testing.T, root string, comment bool) {
	t.Helper()
	p := filepath.Join(root, apiserverRel)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	line := "    - --encryption-provider-config=" + DefaultConfigPath + "\n"
	repl := ""
	if comment {
		repl = "    # - --encryption-provider-config=/etc/kubernetes/enc/encryption-config.yaml\n"
	}
	if !bytes.Contains(data, []byte(line)) {
		t.Fatalf("no flag line in %s", p)
	}
	write(t, p, strings.Replace(string(data), line, repl, 1))
}

// readAll decrypts every value under prefix with tr and returns how many it read.
func readAll(t *testing.T, cli *clientv3.Client, tr value.Transformer, prefix string) int {
	t.Helper()
	resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		got, _, err := tr.TransformFromStorage(context.Background(), kv.Value, value.DefaultContext(kv.Key))
		if err != nil || !bytes.HasPrefix(got, []byte("k8s\x00")) {
			t.Fatalf("%s cannot be read with the planned config: %v", kv.Key, err)
		}
	}
	return len(resp.Kvs)
}

// TestPlanKeepsAKeyEtcdUses is issue 11's bad case 2 on a real etcd: values are written
// under key-old, the flag is removed from kube-apiserver.yaml (the config stays on
// disk), and planning again must not drop key-old: the planned config still decrypts
// every value, with and without a scan of etcd.
func TestPlanKeepsAKeyEtcdUses(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	root := node(t, "hardened")
	old := oldConfig(t, "key-old")
	writeConfig(t, filepath.Join(root, configRel), old)
	put(t, cli, encrypt(t, transformer(t, old, "secrets"), "/registry/secrets/", 0, 25, 64))
	dropFlag(t, root, false)
	scan := func(resources []string) (*StatusReport, error) {
		return Status(context.Background(), cli, resources, nil, nil)
	}
	down := func([]string) (*StatusReport, error) {
		return nil, errors.New("etcd at 127.0.0.1:1 refused the connection")
	}

	for _, tc := range []struct {
		name string
		scan func([]string) (*StatusReport, error)
	}{{"etcd scanned", scan}, {"etcd not reached", down}, {"no etcd", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			before := snapshot(t, root)
			p := plan.New(root)
			res, err := Apply(p, load(t, root), Options{Now: testNow, ScanEtcd: tc.scan})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(snapshot(t, root)) != fmt.Sprint(before) {
				t.Fatal("Apply wrote to disk")
			}
			host := filepath.Join(root, configRel)
			want := KeptKey{ID: "secretbox:key-old", From: host, Where: "the file the plan replaces"}
			if res.Action != ActionRotated || !slices.Contains(res.KeptKeys, want) || !slices.Contains(res.OldKeys, "secretbox:key-old") ||
				res.KeyName != "key-20250607" || res.EtcdScanned != (tc.name == "etcd scanned") {
				t.Fatalf("result %+v", res)
			}
			if tc.name == "etcd not reached" && !slices.Contains(res.Warnings, "the key names in etcd were not checked (etcd at 127.0.0.1:1 refused the connection): every key found in the node's configs, backups and plan folder is kept") {
				t.Fatalf("warnings %q", res.Warnings)
			}
			c := p.Find(configRel)
			if c == nil || !c.Existed {
				t.Fatalf("config change %+v", c)
			}
			planned, _, err := Judge(context.Background(), "planned", c.New, false)
			if err != nil {
				t.Fatal(err)
			}
			if got := planned.Entries()[0].Providers[0]; got.Type != Secretbox || !slices.Equal(got.Keys, []string{"key-20250607", "key-old"}) {
				t.Fatalf("planned providers %+v: new key first, then the old one", planned.Entries())
			}
			lastIsIdentity(t, planned)
			tr := transformer(t, planned, "secrets")
			if n := readAll(t, cli, tr, "/registry/secrets/"); n != 25 {
				t.Fatalf("read %d values", n)
			}
			fresh, err := tr.TransformToStorage(context.Background(), []byte("k8s\x00new"), value.DefaultContext("/registry/secrets/a/b"))
			if err != nil || !bytes.HasPrefix(fresh, []byte("k8s:enc:secretbox:v1:key-20250607:")) {
				t.Fatalf("new writes %q %v", fresh[:min(len(fresh), 40)], err)
			}
		})
	}
}

// TestPlanRefusesToStrandAKey: etcd holds values under a key no config of the node has.
func TestPlanRefusesToStrandAKey(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	root := node(t, "unhardened")
	put(t, cli, encrypt(t, transformer(t, oldConfig(t, "lost"), "secrets"), "/registry/secrets/", 0, 3, 64))
	scan := func(resources []string) (*StatusReport, error) {
		return Status(context.Background(), cli, resources, nil, nil)
	}
	before := snapshot(t, root)
	p := plan.New(root)
	_, err := Apply(p, load(t, root), Options{Now: testNow, ScanEtcd: scan})
	want := "etcd holds 3 values written with key secretbox:lost, and no encryption config found on this node has that key (read: none): the plan would leave them unreadable, so nothing was planned; put the config that holds the key at /etc/kubernetes/enc/encryption-config.yaml"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v", err)
	}
	if !p.Empty() || fmt.Sprint(snapshot(t, root)) != fmt.Sprint(before) {
		t.Fatal("plan or disk changed")
	}
}

// TestPlanReadsEveryConfigOfTheNode: a commented-out flag's file, a backup's copy and an
// earlier plan's config all give their keys; an unused copy is dropped once etcd was
// scanned, and a name held by two files with different secrets is refused.
func TestPlanReadsEveryConfigOfTheNode(t *testing.T) {
	root := node(t, "hardened")
	dropFlag(t, root, true)
	os.Remove(filepath.Join(root, configRel))
	p0 := filepath.Join(root, "etc/kubernetes/enc/encryption-config.yaml")
	write(t, filepath.Join(root, apiserverRel), strings.Replace(mustRead(t, filepath.Join(root, apiserverRel)),
		"# - --encryption-provider-config="+DefaultConfigPath, "# - --encryption-provider-config=/etc/kubernetes/enc/old/enc.yaml", 1))
	writeConfig(t, filepath.Join(root, "etc/kubernetes/enc/old/enc.yaml"), oldConfig(t, "commented"))

	// An apply whose backup holds a replaced config (the apply then removed it).
	writeConfig(t, p0, oldConfig(t, "backed-up"))
	bp := plan.New(root)
	if err := bp.Create(configRel, []byte(mustYAML(t, oldConfig(t, "interrupted"))), 0o600, 0o700, true, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := bp.Apply(plan.ApplyOptions{BackupRoot: plan.DefaultBackupRoot(root)}); err != nil {
		t.Fatal(err)
	}
	os.Remove(p0)
	planDir := t.TempDir()
	writeConfig(t, filepath.Join(planDir, "secrets", configRel), oldConfig(t, "planned-before"))

	p := plan.New(root)
	res, err := Apply(p, load(t, root), Options{Now: testNow, PlanDir: planDir})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range res.KeptKeys {
		ids = append(ids, k.ID)
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"secretbox:backed-up", "secretbox:commented", "secretbox:planned-before"}) {
		t.Fatalf("kept %v", res.KeptKeys)
	}

	// With a scan of etcd that finds none of the copies' keys in use, they are dropped;
	// the file a commented-out flag names is on the node and is kept.
	p = plan.New(root)
	res, err = Apply(p, load(t, root), Options{Now: testNow, PlanDir: planDir,
		ScanEtcd: func([]string) (*StatusReport, error) { return &StatusReport{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.KeptKeys) != 1 || res.KeptKeys[0].ID != "secretbox:commented" || len(res.DroppedKeys) != 2 {
		t.Fatalf("kept %v dropped %v", res.KeptKeys, res.DroppedKeys)
	}

	// Two files with one key name and two secrets: refused, naming both.
	other := filepath.Join(root, "etc/kubernetes/encryption-config.yaml")
	writeConfig(t, other, oldConfig(t, "commented"))
	p = plan.New(root)
	_, err = Apply(p, load(t, root), Options{Now: testNow})
	if err == nil || !strings.Contains(err.Error(), "key secretbox:commented is in ") || !strings.Contains(err.Error(), "with different secrets") ||
		!strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "old/enc.yaml") || !p.Empty() {
		t.Fatalf("err = %v", err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustYAML(t *testing.T, c *Config) string {
	t.Helper()
	b, err := c.YAML("")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
