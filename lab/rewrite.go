package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/runtime/schema"
	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
	"k8s.io/apiserver/pkg/storage/value"
	"sigs.k8s.io/yaml"
)

// RewriteNote says what RewriteSecrets stands for; show it with its result.
const RewriteNote = "the lab has no kube-apiserver: it rewrote the stored objects itself through the " +
	"encryption config, standing in for `kubectl get secrets -A -o json | kubectl replace -f -` on a real cluster"

// Rewrite is RewriteSecrets on the lab's own etcd, with how etcd holds the lab's values
// (Secrets and ConfigMaps) counted before and after: what the wizard's summary shows.
func (l *Lab) Rewrite(ctx context.Context) (before, after *encryption.StatusReport, err error) {
	cli, err := l.Client()
	if err != nil {
		return nil, nil, err
	}
	defer cli.Close()
	before, err = encryption.Status(ctx, cli, labResources, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	if _, err := RewriteSecrets(ctx, l.Root(), cli, nil); err != nil {
		return before, nil, err
	}
	after, err = encryption.Status(ctx, cli, labResources, nil, nil)
	return before, after, err
}

// RewriteNote is the constant RewriteNote, for the wizard that shows it with Rewrite's
// result.
func (l *Lab) RewriteNote() string { return RewriteNote }

// Errors of RewriteSecrets that a caller may want to tell apart.
var (
	ErrNoEncryptionConfig = errors.New("kube-apiserver.yaml has no --encryption-provider-config")
	ErrKMS                = errors.New("encryption config uses a kms provider")
)

// RewriteResource counts one resource's rewrite.
type RewriteResource struct {
	Resource  string // "secrets"
	Keys      int    // values read
	Rewritten int    // values written back through the transformer
	Stale     int    // of those, values that were plaintext or under an older key
	Retries   int    // writes tried again because the value changed meanwhile
}

// RewriteReport is what RewriteSecrets did.
type RewriteReport struct {
	Note      string // RewriteNote
	Config    string // host path of the encryption config used
	Resources []RewriteResource
}

// RewriteProgress is reported after each page of values.
type RewriteProgress struct {
	Resource    string
	Done, Total int
}

// labResources are the resources the lab stores and RewriteSecrets rewrites when the
// encryption config covers them.
var labResources = []string{"secrets", "configmaps"}

// pageSize is how many values RewriteSecrets reads per request.
const pageSize = 200

// RewriteSecrets is the lab's stand-in for `kubectl get secrets -A -o json | kubectl
// replace -f -`, which on a real cluster makes kube-apiserver store every Secret again
// under the current encryption config. The lab has no kube-apiserver, so this reads
// kube-apiserver.yaml under root, loads the file its --encryption-provider-config names
// (mapped to the host through the pod's hostPath volumes) with kube-apiserver's own
// loader, and rewrites every value under /registry/secrets/ (and /registry/configmaps/
// when the config covers configmaps): TransformFromStorage to read the old value
// (plaintext or encrypted), TransformToStorage with the etcd key as authenticated data
// to write it. Values are read in pages; each write is a transaction that compares the
// key's ModRevision, as the apiserver's optimistic concurrency does, and is retried from
// a fresh read when the value changed meanwhile. Configs with a kms provider are refused:
// the lab runs no KMS plugin.
func RewriteSecrets(ctx context.Context, root string, c *clientv3.Client, progress func(RewriteProgress)) (*RewriteReport, error) {
	apiPath := filepath.Join(root, filepath.FromSlash(APIServerFile))
	api, err := discover.ReadManifest(root, apiPath, discover.APIServerBinary)
	if err != nil {
		return nil, fmt.Errorf("rewrite Secrets: %w", err)
	}
	value, host, ok, mapped := api.FlagPath("encryption-provider-config")
	if !ok {
		return nil, fmt.Errorf("%s: %w; add the flag (the encryption step does) before rewriting Secrets", apiPath, ErrNoEncryptionConfig)
	}
	if !mapped {
		return nil, fmt.Errorf("%s: --encryption-provider-config=%s is not under any hostPath volume, so kube-apiserver could not read it; add a hostPath volume and a volumeMount for it", apiPath, value)
	}
	if err := refuseKMS(host); err != nil {
		return nil, err
	}
	loadCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, err := encryptionconfig.LoadEncryptionConfig(loadCtx, host, false, "etcd-harden-lab")
	if err != nil {
		return nil, fmt.Errorf("load the encryption config %s (from --encryption-provider-config=%s) as kube-apiserver would: %w; fix the file", host, value, err)
	}
	rep := &RewriteReport{Note: RewriteNote, Config: host}
	for _, res := range labResources {
		t := covering(cfg.Transformers, res)
		if t == nil {
			continue
		}
		rr, err := rewriteResource(ctx, c, res, t, progress)
		rep.Resources = append(rep.Resources, rr)
		if err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// refuseKMS fails when the config at path names a kms provider: loading it would dial a
// plugin socket that the lab does not have.
func refuseKMS(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read the encryption config: %w", err)
	}
	var cfg apiserverv1.EncryptionConfiguration
	if yaml.Unmarshal(data, &cfg) != nil {
		return nil // the loader reports the problem precisely
	}
	for _, r := range cfg.Resources {
		for _, p := range r.Providers {
			if p.KMS != nil {
				return fmt.Errorf("%s: %w (%q); the lab has no KMS plugin and cannot rewrite Secrets with it: use aescbc, aesgcm or secretbox in the lab", path, ErrKMS, p.KMS.Name)
			}
		}
	}
	return nil
}

// covering returns the transformer the config gives resource (core group), nil when
// no rule names it, as kube-apiserver resolves them: exact, then "*.", then "*.*".
func covering(ts map[schema.GroupResource]value.Transformer, resource string) value.Transformer {
	for _, gr := range []schema.GroupResource{{Resource: resource}, {Resource: "*"}, {Group: "*", Resource: "*"}} {
		if t := ts[gr]; t != nil {
			return t
		}
	}
	return nil
}

func rewriteResource(ctx context.Context, c *clientv3.Client, resource string, t value.Transformer, progress func(RewriteProgress)) (RewriteResource, error) {
	rr := RewriteResource{Resource: resource}
	prefix := "/registry/" + resource + "/"
	end := clientv3.GetPrefixRangeEnd(prefix)
	count, err := c.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return rr, fmt.Errorf("count %s in etcd: %w", prefix, err)
	}
	total := int(count.Count)
	from := prefix
	for {
		page, err := c.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(pageSize))
		if err != nil {
			return rr, fmt.Errorf("read %s from etcd: %w", prefix, err)
		}
		for _, kv := range page.Kvs {
			rr.Keys++
			if err := rewriteKey(ctx, c, t, string(kv.Key), kv.Value, kv.ModRevision, &rr); err != nil {
				return rr, err
			}
		}
		if progress != nil {
			progress(RewriteProgress{Resource: resource, Done: rr.Keys, Total: max(total, rr.Keys)})
		}
		if !page.More || len(page.Kvs) == 0 {
			return rr, nil
		}
		from = string(page.Kvs[len(page.Kvs)-1].Key) + "\x00"
	}
}

// rewriteKey reads one value through t and writes it back if its ModRevision is still
// rev; on a conflict it reads the key again (up to three times).
func rewriteKey(ctx context.Context, c *clientv3.Client, t value.Transformer, key string, data []byte, rev int64, rr *RewriteResource) error {
	dctx := value.DefaultContext(key)
	for attempt := 0; ; attempt++ {
		plain, stale, err := t.TransformFromStorage(ctx, data, dctx)
		if err != nil {
			return fmt.Errorf("decrypt %s with the encryption config: %w (was it written with a key that is no longer in the config?)", key, err)
		}
		out, err := t.TransformToStorage(ctx, plain, dctx)
		if err != nil {
			return fmt.Errorf("encrypt %s with the encryption config: %w", key, err)
		}
		resp, err := c.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, string(out))).
			Else(clientv3.OpGet(key)).
			Commit()
		if err != nil {
			return fmt.Errorf("write %s to etcd: %w", key, err)
		}
		if resp.Succeeded {
			rr.Rewritten++
			if stale {
				rr.Stale++
			}
			return nil
		}
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil // deleted meanwhile: nothing to rewrite
		}
		if attempt == 2 {
			return fmt.Errorf("write %s to etcd: it kept changing during the rewrite; run the rewrite again", key)
		}
		rr.Retries++
		data, rev = kvs[0].Value, kvs[0].ModRevision
	}
}
