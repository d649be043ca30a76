package encryption

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Paging of the status scan. The first page asks for PageSize keys, few, because values
// can be large (a Helm release Secret holds hundreds of KiB, and each sub-range starts with
// a page); later pages grow up to sixteenfold towards three quarters of the reader's share
// of scanBudget, up to MaxPageSize keys, and halve when a page passes the share. Growing
// matters: etcd walks every key left in the range on each page (the unary Range always
// computes the total), so the server's work is about keys²/page. The budget is shared by
// the sub-ranges being read, not split once: when a prefix's keys bunch in one sub-range
// (namespaces sharing a first letter, or one holding most Secrets), its reader gets the
// whole budget once the others are done. On Debian's etcd 3.4, 130,000 Secrets in
// namespaces ns-000…ns-499 took 2.9–4.2 s with a fixed 2 MiB per reader and take
// 1.9–2.2 s; 8 MiB took 1.7–2.0 s but peaked at 55–69 MiB anonymous, against 36–39 MiB.
const (
	PageSize      = 8
	MaxPageSize   = 20000
	scanBudget    = 4 << 20 // bytes of values in flight, over every reader
	maxListedKeys = 10
)

// StatusReport counts how the values of the scanned resources are stored in etcd.
type StatusReport struct {
	// Revision is the etcd revision every page was read at (one consistent snapshot).
	Revision  int64            `json:"revision"`
	Total     int              `json:"total"`
	Encrypted int              `json:"encrypted"`
	Plaintext int              `json:"plaintext"`
	Unknown   int              `json:"unknown"`
	Resources []ResourceStatus `json:"resources"`
	// Keys counts values per key over all resources, by id.
	Keys []KeyCount `json:"keys"`
	// PlaintextKeys are the first etcd keys found in plaintext (at most 10).
	PlaintextKeys []string `json:"plaintextKeys,omitempty"`
	// ConfigChecked is true when a config was given to check key names against.
	ConfigChecked bool `json:"configChecked"`
	// MissingKeys are key ids in use that the config cannot read with (values that
	// kube-apiserver would fail to decrypt).
	MissingKeys []string `json:"missingKeys,omitempty"`
	// AllKeysInConfig is true when a config was given and it has every key in use.
	AllKeysInConfig bool `json:"allKeysInConfig"`
	// ConfigError is why kube-apiserver would refuse the config it is pointed at (see
	// Judge); "" when it would start with it or no config was judged. Callers set it.
	ConfigError string `json:"configError,omitempty"`
	// Skipped are resources that have no etcd prefix to scan (wildcards, subresources).
	Skipped []string `json:"skipped,omitempty"`
}

// ResourceStatus counts one resource's values.
type ResourceStatus struct {
	Resource      string     `json:"resource"`
	Prefix        string     `json:"prefix"`
	Total         int        `json:"total"`
	Encrypted     int        `json:"encrypted"`
	Plaintext     int        `json:"plaintext"`
	Unknown       int        `json:"unknown"`
	Keys          []KeyCount `json:"keys"`
	PlaintextKeys []string   `json:"plaintextKeys,omitempty"`
}

// KeyCount is how many values are stored with one key.
type KeyCount struct {
	// ID is "<provider>:<key>" ("secretbox:key-20250101") or "kms:<version>:<name>".
	ID         string   `json:"id"`
	Provider   Provider `json:"provider"`
	KMSVersion string   `json:"kmsVersion,omitempty"`
	Name       string   `json:"name"`
	Count      int      `json:"count"`
	// InConfig is true when the config given to Status has this key for the resource.
	InConfig bool `json:"inConfig"`
}

// ResourcePrefix returns the etcd prefix kube-apiserver stores resource under:
// "/registry/<resource>/" for core and built-in resources (with kube-apiserver's own
// exceptions such as services and nodes), "/registry/<group>/<resource>/" for custom
// resources ("pandas.awesome.bears.example"). A resource starting with "/" is taken as a
// prefix. ok is false for wildcards and subresources, which have no prefix of their own.
func ResourcePrefix(resource string) (prefix string, ok bool) {
	if strings.HasPrefix(resource, "/") {
		return resource, true
	}
	if strings.Contains(resource, "/") || strings.Contains(resource, "*") || resource == "" {
		return "", false
	}
	gr := schema.ParseGroupResource(resource)
	switch gr {
	case schema.GroupResource{Resource: "services"}:
		return "/registry/services/specs/", true
	case schema.GroupResource{Resource: "endpoints"}:
		return "/registry/services/endpoints/", true
	case schema.GroupResource{Resource: "nodes"}:
		return "/registry/minions/", true
	}
	if gr.Group == "" || !strings.Contains(gr.Group, ".") || strings.HasSuffix(gr.Group, ".k8s.io") {
		return "/registry/" + gr.Resource + "/", true
	}
	return "/registry/" + gr.Group + "/" + gr.Resource + "/", true
}

// Status scans the values of resources in etcd, read-only, page by page at one revision,
// and counts them by how they are stored: per key (k8s:enc:<provider>:v1:<key>:,
// k8s:enc:kms:v2:<name>:), plaintext (protobuf k8s\x00, JSON, CBOR) or unknown. cfg, when
// not nil, is checked for every key in use. progress, when not nil, gets the number of
// values scanned so far after each page.
func Status(ctx context.Context, cli *clientv3.Client, resources []string, cfg *Config, progress func(n int)) (*StatusReport, error) {
	if len(resources) == 0 {
		resources = DefaultResources
	}
	rep := &StatusReport{ConfigChecked: cfg != nil}
	sc := &scanner{cli: cli, progress: progress}
	for _, r := range resources {
		prefix, ok := ResourcePrefix(r)
		if !ok {
			rep.Skipped = append(rep.Skipped, r)
			continue
		}
		rs, err := sc.scan(ctx, r, prefix)
		if err != nil {
			return nil, err
		}
		if cfg != nil {
			ids := cfg.KeyIDs(r)
			if strings.HasPrefix(r, "/") {
				ids = cfg.KeyIDs("")
			}
			for i := range rs.Keys {
				rs.Keys[i].InConfig = ids[rs.Keys[i].ID]
			}
		}
		rep.add(rs)
	}
	rep.Revision = sc.rev
	rep.AllKeysInConfig = cfg != nil && len(rep.MissingKeys) == 0
	return rep, nil
}

func (rep *StatusReport) add(rs ResourceStatus) {
	rep.Resources = append(rep.Resources, rs)
	rep.Total += rs.Total
	rep.Encrypted += rs.Encrypted
	rep.Plaintext += rs.Plaintext
	rep.Unknown += rs.Unknown
	for _, k := range rs.PlaintextKeys {
		if len(rep.PlaintextKeys) < maxListedKeys {
			rep.PlaintextKeys = append(rep.PlaintextKeys, k)
		}
	}
	for _, kc := range rs.Keys {
		if rep.ConfigChecked && !kc.InConfig && !slices.Contains(rep.MissingKeys, kc.ID) {
			rep.MissingKeys = append(rep.MissingKeys, kc.ID)
		}
		i := slices.IndexFunc(rep.Keys, func(k KeyCount) bool { return k.ID == kc.ID })
		if i < 0 {
			rep.Keys = append(rep.Keys, kc)
			continue
		}
		rep.Keys[i].Count += kc.Count
		rep.Keys[i].InConfig = rep.Keys[i].InConfig && kc.InConfig
	}
	slices.SortFunc(rep.Keys, func(a, b KeyCount) int { return strings.Compare(a.ID, b.ID) })
}

type scanner struct {
	cli      *clientv3.Client
	progress func(int)
	rev      int64 // 0 until the first read fixes it
	mu       sync.Mutex
	n        int
	reading  atomic.Int64 // sub-ranges being read, which share scanBudget
}

// scanWorkers is how many sub-ranges of a prefix are read side by side.
const scanWorkers = 4

// cuts are where a prefix's range is cut into sub-ranges read side by side. Below a
// resource prefix come namespaces, and names are DNS labels (digits, lower-case letters,
// '-' and '.'): the cuts spread over those, and keys of any other shape still fall in
// exactly one sub-range.
var cuts = []string{"0", "a", "c", "e", "g", "i", "k", "m", "o", "r", "t", "w"}

// part is one sub-range's counts, merged in key order when every part is read.
type part struct {
	rs     ResourceStatus
	counts map[string]*KeyCount
}

func (sc *scanner) scan(ctx context.Context, resource, prefix string) (ResourceStatus, error) {
	if sc.rev == 0 { // every sub-range reads at one revision: a consistent picture
		resp, err := sc.cli.Get(ctx, prefix, clientv3.WithLimit(1), clientv3.WithKeysOnly())
		if err != nil {
			return ResourceStatus{Resource: resource, Prefix: prefix}, scanError(prefix, 0, err)
		}
		sc.rev = resp.Header.Revision
	}
	bounds := []string{prefix}
	for _, c := range cuts {
		bounds = append(bounds, prefix+c)
	}
	bounds = append(bounds, clientv3.GetPrefixRangeEnd(prefix))
	parts := make([]part, len(bounds)-1)
	next := make(chan int)
	g, gctx := errgroup.WithContext(ctx)
	for range scanWorkers {
		g.Go(func() error {
			for i := range next {
				p := &parts[i]
				p.counts = map[string]*KeyCount{}
				if err := sc.scanRange(gctx, p, bounds[i], bounds[i+1]); err != nil {
					return scanError(prefix, sc.rev, err)
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(next)
		for i := range parts {
			select {
			case next <- i:
			case <-gctx.Done():
				return nil
			}
		}
		return nil
	})
	rs := ResourceStatus{Resource: resource, Prefix: prefix}
	if err := g.Wait(); err != nil {
		return rs, err
	}
	counts := map[string]*KeyCount{}
	for _, p := range parts {
		rs.Total, rs.Encrypted, rs.Plaintext, rs.Unknown = rs.Total+p.rs.Total, rs.Encrypted+p.rs.Encrypted, rs.Plaintext+p.rs.Plaintext, rs.Unknown+p.rs.Unknown
		if room := maxListedKeys - len(rs.PlaintextKeys); room > 0 {
			rs.PlaintextKeys = append(rs.PlaintextKeys, p.rs.PlaintextKeys[:min(room, len(p.rs.PlaintextKeys))]...)
		}
		for id, kc := range p.counts {
			if c := counts[id]; c != nil {
				c.Count += kc.Count
			} else {
				counts[id] = kc
			}
		}
	}
	for _, kc := range counts {
		rs.Keys = append(rs.Keys, *kc)
	}
	slices.SortFunc(rs.Keys, func(a, b KeyCount) int { return strings.Compare(a.ID, b.ID) })
	return rs, nil
}

// scanRange counts the values of [key, end) into p, page by page; each page's values are
// dropped once counted.
func (sc *scanner) scanRange(ctx context.Context, p *part, key, end string) error {
	sc.reading.Add(1)
	defer sc.reading.Add(-1)
	limit := int64(PageSize)
	for {
		resp, err := sc.cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(limit), clientv3.WithRev(sc.rev))
		if err != nil {
			return err
		}
		size := 0
		for _, kv := range resp.Kvs {
			size += len(kv.Value)
			p.rs.count(p.counts, kv.Key, kv.Value)
		}
		sc.counted(len(resp.Kvs))
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		limit = nextLimit(limit, size, scanBudget/int(max(1, sc.reading.Load())))
	}
}

// counted adds n values to the progress, from any of the workers.
func (sc *scanner) counted(n int) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.n += n
	if sc.progress != nil {
		sc.progress(sc.n)
	}
}

// nextLimit halves the page when its values (size bytes) passed share, and otherwise grows
// it towards three quarters of share, at most sixteenfold, up to MaxPageSize keys.
func nextLimit(limit int64, size, share int) int64 {
	if size > share {
		return max(1, limit/2)
	}
	next := limit * 16
	if size > 0 {
		next = min(next, limit*int64(share)*3/4/int64(size))
	}
	return max(limit, min(next, MaxPageSize))
}

func scanError(prefix string, rev int64, err error) error {
	if errors.Is(err, rpctypes.ErrCompacted) {
		return fmt.Errorf("scan %s: etcd compacted revision %d during the scan; run the status again: %w", prefix, rev, err)
	}
	return fmt.Errorf("scan %s in etcd: %w", prefix, err)
}

var (
	encPrefix      = []byte("k8s:enc:")
	protobufPrefix = []byte("k8s\x00")
	cborPrefix     = []byte{0xd9, 0xd9, 0xf7}
)

func (rs *ResourceStatus) count(counts map[string]*KeyCount, key, value []byte) {
	rs.Total++
	switch {
	case bytes.HasPrefix(value, encPrefix):
		id := keyPrefix(value[len(encPrefix):])
		if id == nil {
			rs.Unknown++
			return
		}
		rs.Encrypted++
		if kc := counts[string(id)]; kc != nil {
			kc.Count++
			return
		}
		kc := newKeyCount(string(id))
		kc.Count = 1
		counts[string(id)] = kc
	case bytes.HasPrefix(value, protobufPrefix), bytes.HasPrefix(value, []byte("{")), bytes.HasPrefix(value, cborPrefix):
		rs.Plaintext++
		if len(rs.PlaintextKeys) < maxListedKeys {
			rs.PlaintextKeys = append(rs.PlaintextKeys, string(key))
		}
	default:
		rs.Unknown++
	}
}

// keyPrefix returns "<provider>:<version>:<name>" from the bytes after "k8s:enc:", or nil
// when they do not have that form.
func keyPrefix(b []byte) []byte {
	end := 0
	for part := 0; part < 3; part++ {
		i := bytes.IndexByte(b[end:min(len(b), end+256)], ':')
		if i <= 0 {
			return nil
		}
		end += i + 1
	}
	return b[:end-1]
}

func newKeyCount(raw string) *KeyCount {
	parts := strings.SplitN(raw, ":", 3)
	kc := &KeyCount{Provider: Provider(parts[0]), Name: parts[2]}
	if kc.Provider == KMS {
		kc.KMSVersion = parts[1]
		kc.ID = "kms:" + parts[1] + ":" + parts[2]
	} else {
		kc.ID = parts[0] + ":" + parts[2]
	}
	return kc
}
