package offsite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/internal/testminio"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/steps/seal"
)

// identity writes a throw-away age identity for the test and returns its path and recipients.
func identity(t *testing.T) (string, *seal.Recipients) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "throwaway-test-identity.txt")
	if err := os.WriteFile(p, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := seal.ParseRecipients([]string{id.Recipient().String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, rs
}

func loadIDs(t *testing.T, path string) *seal.Identities {
	t.Helper()
	ids, err := seal.LoadIdentities(path)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func etcdWithKeys(t *testing.T, n int) etcdconn.Conn {
	t.Helper()
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	conn := etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)
	cli, err := conn.Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for i := range n {
		if _, err := cli.Put(context.Background(), fmt.Sprintf("/registry/secrets/default/s%03d", i), strings.Repeat("x", 500)); err != nil {
			t.Fatal(err)
		}
	}
	return conn
}

// The "done when": a sealed snapshot lands in MinIO, the real age command opens it,
// etcdctl reads the result, and fetch gives the same file back; then the bad cases of fetch.
func TestJobSealUploadFetch(t *testing.T) {
	conn := etcdWithKeys(t, 50)
	srv := testminio.Start(t)
	bucket := srv.Bucket(t, false)
	idPath, rs := identity(t)
	staging := t.TempDir()
	dest := "s3://" + bucket + "/etcd/prod"
	store := Config{Endpoint: srv.Endpoint, Creds: srv.RootCreds(), NoInstanceRole: true, MaxRetries: 1}
	if _, err := NewJob(conn, nil, Request{Dest: dest, Store: store, Staging: staging}); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("no recipient: %v", err)
	}
	job, err := NewJob(conn, nil, Request{Dest: dest, Store: store, Staging: staging, Recipients: rs, Identity: loadIDs(t, idPath), Keep: 3, Schedule: "both"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := job.Run(ctx(t), Observer{})
	if err != nil {
		t.Fatalf("run: %v\n%+v", err, rep)
	}
	if rep.Upload == nil || !strings.HasSuffix(rep.Upload.Key, ".db.age") || rep.ReadBack == nil || !rep.ReadBack.Decrypted ||
		rep.Local.Verification == nil || !rep.Local.Verification.OK || rep.Pruned == nil || len(rep.Pruned.Kept) != 1 {
		t.Fatalf("report: %+v", rep)
	}
	if names, _ := os.ReadDir(staging); len(names) != 0 {
		t.Fatalf("staging left %v", names)
	}
	if !strings.Contains(rep.Schedule.SystemdService, "--encrypt-to") || strings.Contains(rep.Schedule.SystemdService+rep.Schedule.CronJob, srv.SecretKey) {
		t.Fatalf("schedule:\n%s", rep.Schedule.SystemdService)
	}
	obj, ours, err := job.Store().Stat(ctx(t), rep.Upload.Key)
	if err != nil || !ours || obj.Size != rep.Sealed.Size || obj.Meta.Revision != rep.Local.Verification.Revision || obj.Meta.Sealed != "age" {
		t.Fatalf("object %+v ours=%v %v", obj, ours, err)
	}

	// Download the object as it is, and open it with the real age command.
	raw := filepath.Join(t.TempDir(), "object.db.age")
	if err := srv.Root(t).FGetObject(ctx(t), bucket, rep.Upload.Key, raw, minio.GetObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	var plainByAge []byte
	if bin := lookBin("age"); bin != "" {
		plainByAge, err = exec.Command(bin, "-d", "-i", idPath, raw).Output()
		if err != nil {
			t.Fatalf("age -d: %v", err)
		}
		if etcdctl := lookBin("etcdctl"); etcdctl != "" {
			f := filepath.Join(t.TempDir(), "by-age.db")
			os.WriteFile(f, plainByAge, 0o600)
			cmd := exec.Command(etcdctl, "snapshot", "status", f, "-w", "json")
			cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), fmt.Sprintf(`"revision":%d`, rep.Local.Verification.Revision)) {
				t.Fatalf("etcdctl snapshot status: %v\n%s", err, out)
			}
		} else {
			t.Log("etcdctl not installed: skipped etcdctl snapshot status")
		}
	} else {
		t.Log("age not installed: skipped the age command")
	}

	// fetch: the newest snapshot under the prefix, decrypted and verified.
	out := filepath.Join(t.TempDir(), "restore.db")
	f, err := Fetch(ctx(t), FetchRequest{Src: dest + "/", Out: out, Store: store, Identity: loadIDs(t, idPath)})
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	got, _ := os.ReadFile(out)
	if !f.Sealed || f.Verification == nil || !f.Verification.OK || f.PlainSHA256 != rep.Sealed.PlainSHA256 || plainByAge != nil && !bytes.Equal(got, plainByAge) {
		t.Fatalf("fetched %+v", f)
	}

	// The bad cases leave nothing under -o.
	badOut := filepath.Join(t.TempDir(), "bad.db")
	otherID, _ := identity(t)
	for _, tc := range []struct {
		name string
		ids  *seal.Identities
		is   error
	}{
		{"no identity", nil, ErrNeedIdentity},
		{"wrong identity", loadIDs(t, otherID), seal.ErrWrongIdentity},
	} {
		_, err := Fetch(ctx(t), FetchRequest{Src: rep.Upload.URL, Out: badOut, Store: store, Identity: tc.ids})
		if !errors.Is(err, tc.is) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		assertAbsent(t, badOut)
	}
	// Tampered: one byte of the object changed in the bucket (metadata kept).
	data, _ := os.ReadFile(raw)
	data[len(data)/2] ^= 1
	um := map[string]string{}
	for k, v := range obj.Meta.userMetadata() {
		um[k] = v
	}
	if _, err := srv.Root(t).PutObject(ctx(t), bucket, rep.Upload.Key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{UserMetadata: um}); err != nil {
		t.Fatal(err)
	}
	_, err = Fetch(ctx(t), FetchRequest{Src: rep.Upload.URL, Out: badOut, Store: store, Identity: loadIDs(t, idPath)})
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "do not restore") {
		t.Fatalf("tampered: %v", err)
	}
	assertAbsent(t, badOut)
	// Fetch refuses to overwrite.
	if _, err := Fetch(ctx(t), FetchRequest{Src: rep.Upload.URL, Out: out, Store: store}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("overwrite: %v", err)
	}
}

func assertAbsent(t *testing.T, path string) {
	t.Helper()
	for _, p := range []string{path, path + ".part"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s was left behind", p)
		}
	}
}

func lookBin(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
