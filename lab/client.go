package lab

import (
	"context"
	"fmt"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// ClientFromEnv returns a client for a running lab from its ETCDCTL_* variables (see
// EnvFor), after the project's connection check; the caller closes it.
func ClientFromEnv(ctx context.Context, env []string) (*clientv3.Client, error) {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	conn := etcdconn.FromFlags([]string{vars["ETCDCTL_ENDPOINTS"]}, vars["ETCDCTL_CACERT"], vars["ETCDCTL_CERT"], vars["ETCDCTL_KEY"])
	cli, err := conn.Client(ctx)
	if err != nil {
		return nil, fmt.Errorf("the lab's etcd: %w", err)
	}
	return cli, nil
}
