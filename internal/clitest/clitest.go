// Package clitest holds what the command line's tests share, in package main and in
// package commands: a saved hardening plan and a running lab whose etcd is the test
// binary itself.
package clitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/lab"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/harden"
)

// SavedPlan writes the whole hardening plan for root into a new plan folder, as
// `etcd-harden plan --out DIR` does.
func SavedPlan(t *testing.T, root string) string {
	t.Helper()
	st, err := discover.Load(discover.Defaults(root, "", ""))
	if err != nil {
		t.Fatal(err)
	}
	r, err := harden.Build(st, harden.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "plan")
	if err := harden.WriteOut(dir, r, harden.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// StartLab starts a lab whose etcd is this test binary run as etcd-harden's hidden
// etcd subcommand: the test binary's TestMain must dispatch on the program's name
// "etcd-harden", as testscript.Main does.
func StartLab(t *testing.T) *lab.Lab {
	t.Helper()
	bin := selfAsEtcdHarden(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{
		Dir: filepath.Join(t.TempDir(), "root"), RegistryDir: t.TempDir(), Secrets: 3, ConfigMaps: -1,
		EtcdCommand: func(args []string) *exec.Cmd {
			return exec.Command(bin, append([]string{lab.EtcdSubcommand, "--"}, args...)...)
		},
	})
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// StartCluster starts a cluster lab of members members whose etcd is this test binary,
// as StartLab does for one.
func StartCluster(t *testing.T, members int) *lab.Cluster {
	t.Helper()
	bin := selfAsEtcdHarden(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := lab.StartCluster(ctx, lab.Options{
		Dir: filepath.Join(t.TempDir(), "root"), RegistryDir: t.TempDir(), Secrets: 3, ConfigMaps: -1,
		Log: func(s string) { t.Log(s) },
		EtcdCommand: func(args []string) *exec.Cmd {
			return exec.Command(bin, append([]string{lab.EtcdSubcommand, "--"}, args...)...)
		},
	}, members)
	if err != nil {
		t.Fatalf("start cluster lab: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// selfAsEtcdHarden is this test binary under the program name "etcd-harden", so that
// the lab's kubelet runs it as etcd-harden's hidden etcd subcommand.
func selfAsEtcdHarden(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "etcd-harden")
	if err := os.Symlink(self, bin); err != nil {
		t.Fatal(err)
	}
	return bin
}
