package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/audit"
)

// IDs of the checks Checks returns; they follow the CIS ones in audit's output.
const (
	IDPeers       = "cluster.peers"
	IDClientCerts = "cluster.client-certs"
	IDConfig      = "cluster.encryption-config"
)

// Checks turns the facts of a cluster of several members into audit checks: members
// still on http peers, members that serve clients over http or do not require client
// certificates, and the sha256 of this node's encryption config (configFile, a host
// path; "" when kube-apiserver has none), to compare with the other nodes'.
func Checks(f *Facts, configFile string) []audit.Check {
	var http, open, noPeerAuth []string
	for _, m := range f.Members {
		n := nameOr(m)
		if !m.PeerTLS {
			http = append(http, n)
		} else if !m.PeerCertRequired {
			noPeerAuth = append(noPeerAuth, n)
		}
		if m.ClientHTTP || !m.ClientTLS || !m.ClientCertRequired {
			open = append(open, n)
		}
	}
	fix := "harden each node in phases: etcd-harden plan on the first node (it writes a bundle), plan --bundle on the others, then etcd-harden apply --plan on each node until it says the cluster is done"
	peers := audit.Check{ID: IDPeers, Title: "Every member of the cluster talks to its peers over TLS and requires peer certificates", Status: audit.Pass,
		Detail: fmt.Sprintf("%d members, all on https peers that require a certificate", len(f.Members))}
	switch {
	case len(http) > 0:
		peers.Status, peers.Detail, peers.Fix = audit.Fail, "members on plain http peers (member list): "+strings.Join(http, ", "), fix
	case len(noPeerAuth) > 0:
		peers.Status, peers.Detail, peers.Fix = audit.Fail, "members that accept a peer without a certificate: "+strings.Join(noPeerAuth, ", "), fix
	}
	clients := audit.Check{ID: IDClientCerts, Title: "Every member of the cluster serves clients over TLS only and requires client certificates", Status: audit.Pass,
		Detail: fmt.Sprintf("%d members, https only, client certificates required", len(f.Members))}
	if len(open) > 0 {
		clients.Status, clients.Detail, clients.Fix = audit.Fail, "members that serve http or accept a client without a certificate: "+strings.Join(open, ", "), fix
	}
	config := audit.Check{ID: IDConfig, Title: "This node's encryption config, to compare with every other control-plane node's", Status: audit.Warn,
		Detail: "kube-apiserver has no --encryption-provider-config", Fix: "every kube-apiserver of the cluster needs the same config: plan with the cluster bundle", Target: configFile}
	if configFile != "" {
		if sum, err := FileSHA256(configFile); err != nil {
			config.Detail = fmt.Sprintf("%s cannot be read: %v", configFile, err)
		} else {
			config.Status, config.Fix = audit.Pass, ""
			config.Detail = fmt.Sprintf("sha256 %s (%s); it must be the same on all %d nodes", sum, configFile, len(f.Members))
		}
	}
	return []audit.Check{peers, clients, config}
}

// FileSHA256 returns the hex sha256 of the file at path.
func FileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:]), nil
}
