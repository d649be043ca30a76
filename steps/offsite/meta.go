package offsite

import (
	"net/http"
	"strconv"
	"strings"
)

// Metadata keys (x-amz-meta-*) on every snapshot object this tool writes. MarkKey marks
// the object as ours: --keep never touches an object without it.
const (
	MarkKey        = "Etcd-Harden"
	MarkValue      = "snapshot"
	RevisionKey    = "Etcd-Revision"
	ClusterKey     = "Etcd-Cluster-Id"
	SHA256Key      = "Sha256"
	PlainSHA256Key = "Plain-Sha256"
	SealedKey      = "Sealed"
)

// Meta is what an object says about the snapshot in it.
type Meta struct {
	Revision  int64  `json:"revision"`
	ClusterID string `json:"clusterId"`
	// SHA256 is the hex sha256 of the object's bytes (sealed, when Sealed).
	SHA256 string `json:"sha256"`
	// PlainSHA256 is the hex sha256 of the snapshot before sealing.
	PlainSHA256 string `json:"plainSha256"`
	// Sealed is "age" for a snapshot sealed with age, "" for plaintext.
	Sealed string `json:"sealed,omitempty"`
}

func (m Meta) userMetadata() map[string]string {
	um := map[string]string{
		MarkKey:        MarkValue,
		RevisionKey:    strconv.FormatInt(m.Revision, 10),
		ClusterKey:     m.ClusterID,
		SHA256Key:      m.SHA256,
		PlainSHA256Key: m.PlainSHA256,
	}
	if m.Sealed != "" {
		um[SealedKey] = m.Sealed
	}
	return um
}

// readMeta reads Meta from user metadata as StatObject returns it (keys without the
// X-Amz-Meta- prefix, in any case); ours reports whether the object carries MarkKey.
func readMeta(um map[string]string) (m Meta, ours bool) {
	get := func(k string) string {
		for kk, v := range um {
			if strings.EqualFold(strings.TrimPrefix(http.CanonicalHeaderKey(kk), "X-Amz-Meta-"), k) {
				return v
			}
		}
		return ""
	}
	m.Revision, _ = strconv.ParseInt(get(RevisionKey), 10, 64)
	m.ClusterID, m.SHA256, m.PlainSHA256, m.Sealed = get(ClusterKey), get(SHA256Key), get(PlainSHA256Key), get(SealedKey)
	return m, get(MarkKey) == MarkValue
}
