package lab

import "go.etcd.io/etcd/server/v3/etcdmain"

// EtcdSubcommand is the hidden subcommand under which the binary runs etcd for the lab:
// `etcd-harden __lab-etcd -- <etcd flags>`. main registers it (with flag parsing off)
// and calls RunEtcdMain with the flags after "--".
const EtcdSubcommand = "__lab-etcd"

// RunEtcdMain runs the etcd server compiled into this binary with args, etcd's own
// flags (without the program name), as the etcd binary would; a leading "--" is
// dropped, so a cobra command with DisableFlagParsing can pass its args as they are.
// It does not return while etcd runs; etcd exits the process itself on SIGTERM or on a
// flag error.
func RunEtcdMain(args []string) {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	etcdmain.Main(append([]string{"etcd"}, args...))
}
