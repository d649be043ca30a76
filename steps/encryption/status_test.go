package encryption

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"k8s.io/apiserver/pkg/storage/value"
)

// put writes values in transactions of 128 operations (etcd's default limit).
func put(t testing.TB, cli *clientv3.Client, kvs map[string][]byte) {
	t.Helper()
	var ops []clientv3.Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			t.Fatal(err)
		}
		ops = ops[:0]
	}
	for k, v := range kvs {
		ops = append(ops, clientv3.OpPut(k, string(v)))
		if len(ops) == 128 {
			flush()
		}
	}
	flush()
}

// encrypt stores n values under prefix through the config's transformer for resource.
func encrypt(t testing.TB, tr value.Transformer, prefix string, from, n int, size int) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	payload := make([]byte, size)
	copy(payload, "k8s\x00")
	for i := from; i < from+n; i++ {
		key := fmt.Sprintf("%sns%d/obj-%06d", prefix, i%7, i)
		v, err := tr.TransformToStorage(context.Background(), payload, value.DefaultContext(key))
		if err != nil {
			t.Fatal(err)
		}
		out[key] = v
	}
	return out
}

func TestStatusOnEmbeddedEtcd(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)

	o := opts(t, Options{Resources: []string{"secrets", "configmaps"}, KeyName: "old"})
	first, err := decide(nil, o, mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	o.KeyName, o.Rotate = "new", true
	rotated, err := decide(first.Config, o, mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	stranger, _ := decide(nil, opts(t, Options{Provider: AESGCM, KeyName: "lost"}), mustKey(t))

	put(t, cli, encrypt(t, transformer(t, first.Config, "secrets"), "/registry/secrets/", 0, 700, 64))
	put(t, cli, encrypt(t, transformer(t, rotated.Config, "secrets"), "/registry/secrets/", 700, 1500, 64))
	put(t, cli, encrypt(t, transformer(t, stranger.Config, "secrets"), "/registry/secrets/", 5000, 3, 64))
	put(t, cli, encrypt(t, transformer(t, rotated.Config, "configmaps"), "/registry/configmaps/", 0, 10, 64))
	plain := map[string][]byte{"/registry/secrets/kube-system/plain-proto": []byte("k8s\x00\x0a\x0fv1"), "/registry/configmaps/default/json": []byte(`{"kind":"ConfigMap"}`)}
	for i := range 12 {
		plain[fmt.Sprintf("/registry/configmaps/default/p%02d", i)] = []byte("k8s\x00cm")
	}
	plain["/registry/secrets/default/garbage"] = []byte("\x00\x01garbage")
	plain["/registry/secretsx/not-a-secret"] = []byte("k8s\x00") // outside the prefix
	plain["/registry/secrets"] = []byte("k8s\x00")               // the bare key is not an object
	put(t, cli, plain)

	var calls []int
	rep, err := Status(context.Background(), cli, []string{"secrets", "configmaps", "serviceaccounts/token"}, rotated.Config, func(n int) { calls = append(calls, n) })
	if err != nil {
		t.Fatal(err)
	}
	sec, cm := rep.Resources[0], rep.Resources[1]
	if sec.Total != 2205 || sec.Encrypted != 2203 || sec.Plaintext != 1 || sec.Unknown != 1 {
		t.Fatalf("secrets %+v", sec)
	}
	wantKeys := []KeyCount{
		{ID: "aesgcm:lost", Provider: AESGCM, Name: "lost", Count: 3},
		{ID: "secretbox:new", Provider: Secretbox, Name: "new", Count: 1500, InConfig: true},
		{ID: "secretbox:old", Provider: Secretbox, Name: "old", Count: 700, InConfig: true},
	}
	if !slices.Equal(sec.Keys, wantKeys) {
		t.Fatalf("keys %+v", sec.Keys)
	}
	if cm.Total != 23 || cm.Encrypted != 10 || cm.Plaintext != 13 || len(cm.PlaintextKeys) != 10 || cm.PlaintextKeys[0] != "/registry/configmaps/default/json" {
		t.Fatalf("configmaps %+v", cm)
	}
	if rep.Total != 2228 || rep.Plaintext != 14 || rep.Encrypted != 2213 || rep.Unknown != 1 || len(rep.PlaintextKeys) != 10 ||
		!slices.Equal(rep.Skipped, []string{"serviceaccounts/token"}) || rep.Revision == 0 {
		t.Fatalf("report %+v", rep)
	}
	if !rep.ConfigChecked || rep.AllKeysInConfig || !slices.Equal(rep.MissingKeys, []string{"aesgcm:lost"}) {
		t.Fatalf("config check %v %v %v", rep.ConfigChecked, rep.AllKeysInConfig, rep.MissingKeys)
	}
	// The sub-ranges are read side by side: the count only grows, and ends at the total.
	if len(calls) == 0 || !slices.IsSorted(calls) || calls[len(calls)-1] != rep.Total {
		t.Fatalf("progress %v", calls)
	}

	// Without a config nothing is checked; a prefix can be given directly.
	rep, err = Status(context.Background(), cli, []string{"/registry/secretsx/"}, nil, nil)
	if err != nil || rep.Total != 1 || rep.ConfigChecked || rep.AllKeysInConfig {
		t.Fatalf("%+v %v", rep, err)
	}
}

func TestResourcePrefix(t *testing.T) {
	cases := map[string]string{
		"secrets": "/registry/secrets/", "configmaps": "/registry/configmaps/", "services": "/registry/services/specs/",
		"deployments.apps": "/registry/deployments/", "pandas.awesome.bears.example": "/registry/awesome.bears.example/pandas/",
		"clusterroles.rbac.authorization.k8s.io": "/registry/clusterroles/", "/custom/": "/custom/",
		"*.": "", "*.*": "", "serviceaccounts/token": "",
	}
	for in, want := range cases {
		got, ok := ResourcePrefix(in)
		if got != want || ok != (want != "") {
			t.Errorf("%s: %q %v", in, got, ok)
		}
	}
}

func TestStatusEtcdDown(t *testing.T) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{fmt.Sprintf("127.0.0.1:%d", testetcd.FreePort(t))}, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = Status(ctx, cli, nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "scan /registry/secrets/ in etcd") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
}

func TestNextLimit(t *testing.T) {
	const share = 2 << 20
	cases := []struct {
		limit int64
		size  int
		want  int64
	}{
		{8, 8 << 10, 128}, // small values: sixteenfold
		{1000, share / 4, 3000}, {16000, share / 8, MaxPageSize}, {MaxPageSize, share / 4, MaxPageSize},
		{1000, share * 3 / 4, 1000}, {1000, 20 * share, 500}, {1, 20 * share, 1},
		{8, 0, 128}, {8, 8 << 20, 4}, // empty values grow; a first page of 1 MiB values halves
	}
	for _, tc := range cases {
		if got := nextLimit(tc.limit, tc.size, share); got != tc.want {
			t.Errorf("nextLimit(%d, %d, %d) = %d, want %d", tc.limit, tc.size, share, got, tc.want)
		}
	}
}

// TestStatusSubRangesCoverEveryKey: keys on and around every cut, and of shapes no
// namespace has, are each counted once, and the plaintext keys listed are the first in
// key order whichever sub-range read them.
func TestStatusSubRangesCoverEveryKey(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{})
	cli := srv.Client(t)
	ctx := context.Background()
	names := []string{"", "\x00", "-", ".", "/", "A", "Z", "_", "~", "\xff", "zz", "w", "v\xff"}
	for _, c := range cuts {
		names = append(names, c, c+"\x00", c[:len(c)-1]+string(c[len(c)-1]-1)+"\xff")
	}
	want := map[string]bool{}
	for _, n := range names {
		key := "/registry/secrets/" + n
		if want[key] {
			continue
		}
		want[key] = true
		if _, err := cli.Put(ctx, key, "k8s\x00plain"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cli.Put(ctx, "/registry/secrets0", "k8s\x00outside the prefix"); err != nil {
		t.Fatal(err)
	}
	rep, err := Status(ctx, cli, []string{"secrets"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sorted := slices.Sorted(maps.Keys(want))
	if rep.Total != len(want) || rep.Plaintext != len(want) || !slices.Equal(rep.PlaintextKeys, sorted[:maxListedKeys]) {
		t.Fatalf("total %d plaintext %d, want %d; listed %q, want %q", rep.Total, rep.Plaintext, len(want), rep.PlaintextKeys, sorted[:maxListedKeys])
	}
}
