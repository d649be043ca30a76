package summary

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
)

// etcdChildEnv makes the test binary run etcd for the lab instead of the tests.
const etcdChildEnv = "SUMMARY_ETCD_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(etcdChildEnv) == "1" {
		lab.RunEtcdMain(os.Args[1:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startLab starts a lab whose etcd is this test binary, closed when the test ends.
func startLab(t *testing.T, secrets, configMaps int) *lab.Lab {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{
		Dir: filepath.Join(t.TempDir(), "root"), RegistryDir: t.TempDir(),
		Secrets: secrets, ConfigMaps: configMaps,
		Log: func(s string) { t.Log("lab: " + s) },
		EtcdCommand: func(args []string) *exec.Cmd {
			cmd := exec.Command(self, args...)
			cmd.Env = append(os.Environ(), etcdChildEnv+"=1")
			return cmd
		},
	})
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}
