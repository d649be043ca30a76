package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// ErrRunning means a lab that should be stopped still runs.
var ErrRunning = errors.New("the lab is running")

// Kept reports whether dir holds a lab that was kept (it has a state file).
func Kept(dir string) bool {
	root, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(root, filepath.FromSlash(StateFile)))
	return err == nil
}

// Resume runs the lab kept in opts.Dir again: etcd from its etcd.yaml as the tree is
// now, nothing laid out or seeded. An etcd that does not start from the manifest is
// reported as an EtcdFailed Event and crash-loops (see Lab.Pod) until etcd.yaml is
// fixed, as after a student's broken edit; Resume still returns the lab. Only Dir, Keep, Log,
// EtcdCommand, ReadyTimeout and RegistryDir of opts are used.
//
// Start and Resume set up the lab's kubelet the same way; Start also lays out and seeds.
func Resume(ctx context.Context, opts Options) (l *Lab, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	root, err := Root(opts.Dir)
	if err != nil {
		return nil, err
	}
	s, err := ReadState(root)
	if err != nil {
		return nil, &labError{ErrNotLabFolder, fmt.Sprintf("%s is not a lab folder (%v); give the folder of `etcd-harden lab --keep --dir DIR`", root, err)}
	}
	if s.Stopped.IsZero() && alive(s.PID) {
		return nil, &labError{ErrRunning, fmt.Sprintf("the lab in %s is running (pid %d); use it, or quit it first", root, s.PID)}
	}
	rec, _ := ReadRecord(root)
	l = &Lab{root: root, keep: opts.Keep, registry: opts.RegistryDir, log: opts.Log, scenario: rec.Scenario,
		events: make(chan Event, 64), loopDone: make(chan struct{}), started: time.Now()}
	self := l
	defer func() {
		if err != nil {
			self.Close()
		}
	}()
	command := opts.EtcdCommand
	l.newRunner(command, orDefault(opts.ReadyTimeout, 10*time.Second))
	// A failed first start is the tree's, already reported as an Event: the loop starts
	// etcd again after its back-off, or when etcd.yaml changes.
	if err := l.startEtcd(ctx, true); err != nil {
		return nil, fmt.Errorf("start the lab's etcd: %w", err)
	}
	if err = l.writeState(); err != nil {
		return nil, err
	}
	if err = l.writePointer(); err != nil {
		return nil, err
	}
	return l, nil
}

// Root returns the lab folder dir made absolute, or with dir empty the one the registry
// pointer names (the lab started last). The error matches ErrNotLabFolder or ErrNoLab.
func Root(dir string) (string, error) { return findRoot(dir) }

// Scenario returns the name of the scenario the lab was laid out for ("" for a lab
// from before scenarios).
func (l *Lab) Scenario() string { return l.scenario }

// Brief returns the lab's BRIEF.md as it is now (a trainer may have edited it).
func (l *Lab) Brief() string {
	data, err := os.ReadFile(filepath.Join(l.root, BriefFile))
	if err != nil {
		return ""
	}
	return string(data)
}
