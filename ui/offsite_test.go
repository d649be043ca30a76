package ui

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/internal/testminio"
	"github.com/etcd-harden/etcd-harden/render/plain"
	"github.com/etcd-harden/etcd-harden/steps/discover"
	"github.com/etcd-harden/etcd-harden/steps/etcdconn"
	"github.com/etcd-harden/etcd-harden/ui/steptest"
)

// TestPlainAnswersOffsite runs the whole wizard in plain mode from an answers file whose
// backup goes to s3:// sealed to an age key (review.action none: the node is not changed).
// The snapshot lands in a real MinIO, the real age command opens it with the private key,
// which the wizard never had, and the schedule files and the credentials template are
// written under the root; the store's keys are in none of them, nor in the output.
func TestPlainAnswersOffsite(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	for i := range 20 {
		if _, err := cli.Put(t.Context(), fmt.Sprintf("/registry/secrets/default/s%02d", i), strings.Repeat("v", 300)); err != nil {
			t.Fatal(err)
		}
	}
	mio := testminio.Start(t)
	bucket := mio.Bucket(t, false)
	t.Setenv("AWS_ACCESS_KEY_ID", mio.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", mio.SecretKey)
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"} {
		t.Setenv(k, "")
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "throwaway-test-identity.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var yaml strings.Builder
	for k, v := range beforeReview {
		fmt.Fprintf(&yaml, "%s: %q\n", k, v)
	}
	fmt.Fprintf(&yaml, `review.action: none
backup.dest: s3://%s/etcd/prod
backup.encryptTo: [%s]
backup.s3Endpoint: %s
backup.schedule: systemd
backup.keep: 4
backup.write: true
`, bucket, id.Recipient(), mio.Endpoint)
	answersFile := filepath.Join(t.TempDir(), "answers.yaml")
	if err := os.WriteFile(answersFile, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	answers, err := LoadAnswers(answersFile)
	if err != nil {
		t.Fatal(err)
	}

	root := steptest.Root(t, "hardened")
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = Run(ctx, Options{Layout: discover.Defaults(root, "", ""), Plain: true, PlainRenderer: plain.New(),
		In: strings.NewReader(""), Out: &out, Answers: answers,
		Etcd: etcdconn.FromFlags([]string{srv.Endpoint}, srv.TLS.CA, srv.TLS.ClientCert, srv.TLS.ClientKey)})
	if err != nil {
		t.Fatalf("wizard: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{"Step 5 of 6: Backup", "[PASS] s3 write, read, delete", "[PASS] seal sealed with age",
		"[PASS] s3 read back", "object: s3://" + bucket + "/etcd/prod/etcd-snapshot-", "written to " + filepath.Join(root, "etc", "etcd-harden", "s3.env")} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(text, mio.SecretKey) || strings.Contains(text, id.String()) {
		t.Fatal("the output shows a secret")
	}
	for _, n := range []string{"etcd-snapshot.service", "etcd-snapshot.timer", "s3.env"} {
		data, err := os.ReadFile(filepath.Join(root, "etc", "etcd-harden", n))
		if err != nil || strings.Contains(string(data), mio.SecretKey) || strings.Contains(string(data), mio.AccessKey) {
			t.Fatalf("%s: %v, or it holds the store's keys", n, err)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}

	// The object is sealed: the real age command opens it with the identity.
	var key string
	for o := range mio.Root(t).ListObjects(ctx, bucket, minio.ListObjectsOptions{Prefix: "etcd/prod/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		key = o.Key
	}
	if !strings.HasSuffix(key, ".db.age") {
		t.Fatalf("object %q is not a sealed snapshot", key)
	}
	raw := filepath.Join(t.TempDir(), "object.db.age")
	if err := mio.Root(t).FGetObject(ctx, bucket, key, raw, minio.GetObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	ageBin := testminio.LookBin("age")
	if ageBin == "" {
		t.Log("age is not installed: the object was not opened with the age command")
		return
	}
	plainDB, err := exec.Command(ageBin, "-d", "-i", idFile, raw).Output()
	if err != nil {
		t.Fatalf("age -d: %v", err)
	}
	if n := len(plainDB); n%512 != 32 {
		t.Fatalf("age gave %d bytes: not a snapshot (size %% 512 == 32)", n)
	}
}
