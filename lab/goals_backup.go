package lab

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// snapshotGoal grades the newest snapshot file under the lab's root: outside etcd's
// data dir, verified, and with afterRewrite at a revision that holds the last write of
// every Secret.
func snapshotGoal(afterRewrite bool) func(ctx context.Context, g *grader) (bool, string) {
	return func(ctx context.Context, g *grader) (bool, string) {
		if g.stErr != nil {
			return false, g.stErr.Error()
		}
		dataDir := etcdconn.DataDir(g.st)
		path, err := newestSnapshot(g.root, dataDir)
		if err != nil {
			return false, err.Error()
		}
		if path == "" {
			return false, "no snapshot (*.db) under " + g.root + " besides etcd's own database"
		}
		rel, _ := filepath.Rel(g.root, path)
		if inside(path, dataDir) {
			return false, fmt.Sprintf("the newest snapshot, /%s, is inside etcd's data dir: it goes with the data it should restore", rel)
		}
		v, err := snapshot.VerifyWith(ctx, path, snapshot.VerifyOptions{Command: g.opts.VerifyCommand, LeaveCorrupt: true}) // a student's file stays where it is
		if err != nil {
			return false, fmt.Sprintf("/%s failed verification: %v", rel, err)
		}
		seen := fmt.Sprintf("/%s verified (sha256 trailer, bbolt, status: %d keys) at revision %d", rel, v.TotalKeys, v.Revision)
		if !afterRewrite {
			return true, seen
		}
		last, err := g.lastSecretWrite(ctx)
		if err != nil {
			return false, seen + "; whether it holds the rewritten Secrets cannot be told: " + errText(err)
		}
		if v.Revision < last {
			return false, fmt.Sprintf("%s, older than the last Secret write (revision %d): it holds Secrets as they were before; take a new one", seen, last)
		}
		return true, fmt.Sprintf("%s, after the last Secret write (revision %d)", seen, last)
	}
}

// lastSecretWrite is the highest ModRevision of the Secrets in etcd.
func (g *grader) lastSecretWrite(ctx context.Context) (int64, error) {
	conn, err := g.etcd(ctx)
	if err != nil {
		return 0, err
	}
	cli, err := conn.Client(ctx)
	if err != nil {
		return 0, err
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "/registry/secrets/", clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(1))
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	return resp.Kvs[0].ModRevision, nil
}

// newestSnapshot finds the newest *.db file under root that is not etcd's own database
// (the member folder of the data dir) nor the lab's bookkeeping.
func newestSnapshot(root, dataDir string) (string, error) {
	var newest string
	var newestInfo fs.FileInfo
	skip := map[string]bool{filepath.Join(dataDir, "member"): true, filepath.Join(root, filepath.Dir(filepath.FromSlash(StateFile))): true}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a folder the student made unreadable is not a snapshot
		}
		if d.IsDir() && skip[p] {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".db") {
			return nil
		}
		info, err := d.Info()
		if err == nil && (newestInfo == nil || info.ModTime().After(newestInfo.ModTime())) {
			newest, newestInfo = p, info
		}
		return nil
	})
	return newest, err
}

// inside reports whether path is dir or under it.
func inside(path, dir string) bool {
	if dir == "" {
		return false
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

func dataDirClean(_ context.Context, g *grader) (bool, string) {
	if g.stErr != nil {
		return false, g.stErr.Error()
	}
	dataDir := etcdconn.DataDir(g.st)
	entries, err := os.ReadDir(dataDir)
	if err != nil {
		return false, err.Error()
	}
	var extra []string
	for _, e := range entries {
		if e.Name() != "member" {
			extra = append(extra, e.Name())
		}
	}
	if len(extra) > 0 {
		return false, fmt.Sprintf("etcd's data dir %s holds %s besides etcd's own member/", dataDir, strings.Join(extra, ", "))
	}
	return true, dataDir + " holds only etcd's member/"
}

// lastWords is etcd's own error line from its last start in the lab's log: the first
// line that is not one of its JSON log records (a flag error, a panic), else the last.
func lastWords(root string) string {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(LogFile)))
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "--- ") {
			lines = lines[:0] // a new start: only its lines count
			continue
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	if words := ownWords(lines); words != "" {
		return words
	}
	if len(lines) > 0 {
		return lines[len(lines)-1]
	}
	return ""
}
