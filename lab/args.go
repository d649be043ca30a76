package lab

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"github.com/etcd-harden/etcd-harden/steps/discover"
	"go.etcd.io/etcd/server/v3/embed"
)

// pathFlags are etcd flags that name files or folders: the lab maps them from the
// container to the host through the pod's hostPath volumes, as the kubelet would.
var pathFlags = map[string]bool{
	"data-dir": true, "wal-dir": true, "config-file": true,
	"cert-file": true, "key-file": true, "trusted-ca-file": true, "client-crl-file": true,
	"peer-cert-file": true, "peer-key-file": true, "peer-trusted-ca-file": true, "peer-crl-file": true,
}

// featureFlags are etcd 3.5 "--experimental-*" flags that etcd 3.6 turned into feature
// gates and 3.7 removed. kubeadm still writes some of them for its 3.5 images.
var featureFlags = map[string]string{
	"experimental-initial-corrupt-check":             "InitialCorruptCheck",
	"experimental-compact-hash-check-enabled":        "CompactHashCheck",
	"experimental-txn-mode-write-with-shared-buffer": "TxnModeWriteWithSharedBuffer",
	"experimental-stop-grpc-service-on-defrag":       "StopGRPCServiceOnDefrag",
	"experimental-enable-lease-checkpoint":           "LeaseCheckpoint",
	"experimental-enable-lease-checkpoint-persist":   "LeaseCheckpointPersist",
}

// containerFSDir stands for a container's own file system: paths that no hostPath volume
// covers land here, so etcd sees an empty folder or a missing file, as in the pod.
const containerFSDir = "var/lib/etcd-harden-lab/container-fs"

var knownFlags = sync.OnceValue(func() *flag.FlagSet {
	fs := flag.NewFlagSet("etcd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	embed.NewConfig().AddFlags(fs)
	return fs
})

// etcdArgs turns the flags of etcd.yaml into the flags the lab's etcd runs with: file
// paths mapped to host paths under root, and 3.5-only flags translated for the etcd 3.7
// server compiled into this binary. notes say what was changed and why.
func etcdArgs(m *discover.Manifest, root string) (args, notes []string) {
	var gates []string
	gateIndex := -1
	for _, f := range m.Flags {
		name, value := f.Name, f.Value
		if gate, ok := featureFlags[name]; ok {
			if !f.HasValue {
				value = "true"
			}
			gates = append(gates, gate+"="+value)
			notes = append(notes, fmt.Sprintf("--%s=%s is a 3.5 flag; the lab's etcd 3.7 gets --feature-gates=%s=%s", name, value, gate, value))
			continue
		}
		if rest, ok := strings.CutPrefix(name, "experimental-"); ok && knownFlags().Lookup(name) == nil && knownFlags().Lookup(rest) != nil {
			notes = append(notes, fmt.Sprintf("--%s is a 3.5 flag; the lab's etcd 3.7 gets --%s", name, rest))
			name = rest
		}
		if pathFlags[name] && value != "" {
			host, ok := m.HostPath(value)
			if !ok {
				host = filepath.Join(root, filepath.FromSlash(containerFSDir), filepath.FromSlash(value))
				notes = append(notes, fmt.Sprintf("--%s=%s is not under any hostPath volume of etcd.yaml: etcd sees the container's own file system, not the host's", name, value))
			}
			value = host
		}
		if name == "feature-gates" {
			gateIndex = len(args)
		}
		if f.HasValue {
			args = append(args, "--"+name+"="+value)
		} else {
			args = append(args, "--"+name)
		}
	}
	if len(gates) > 0 {
		if gateIndex >= 0 {
			args[gateIndex] += "," + strings.Join(gates, ",")
		} else {
			args = append(args, "--feature-gates="+strings.Join(gates, ","))
		}
	}
	return args, notes
}

// clientURL returns the URL the lab talks to: the first loopback URL of
// --listen-client-urls, else the first one with a wildcard host replaced by 127.0.0.1.
func clientURL(m *discover.Manifest) string {
	v, ok := m.Flag("listen-client-urls")
	if !ok || v == "" {
		return "http://localhost:2379" // etcd's default
	}
	var first *url.URL
	for _, s := range strings.Split(v, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			continue
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return u.String()
		}
		if first == nil {
			first = u
		}
	}
	if first == nil {
		return "http://localhost:2379"
	}
	if ip := net.ParseIP(first.Hostname()); ip != nil && ip.IsUnspecified() {
		first.Host = net.JoinHostPort("127.0.0.1", first.Port())
	}
	return first.String()
}
