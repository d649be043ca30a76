package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
)

func TestEncryptionStatusCommand(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli := srv.Client(t)
	for _, kv := range [][2]string{
		{"/registry/secrets/default/a", "k8s\x00plain"},
		{"/registry/secrets/default/b", "k8s:enc:secretbox:v1:key1:xxxxxxxx"},
		{"/registry/secrets/kube-system/c", "k8s:enc:secretbox:v1:key1:yyyyyyyy"},
	} {
		if _, err := cli.Put(ctx, kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	flags := []string{"--root", t.TempDir(), "--endpoints", srv.Endpoint,
		"--cacert", srv.TLS.CA, "--cert", srv.TLS.ClientCert, "--key", srv.TLS.ClientKey}

	var out, errOut bytes.Buffer
	code := run(ctx, append([]string{"encryption", "status", "-o", "json"}, flags...), strings.NewReader(""), &out, &errOut)
	if code != exitFailed {
		t.Fatalf("exit %d with a plaintext Secret, want %d\n%s%s", code, exitFailed, out.String(), errOut.String())
	}
	var rep encryption.StatusReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out.String())
	}
	if rep.Total != 3 || rep.Encrypted != 2 || rep.Plaintext != 1 || len(rep.PlaintextKeys) != 1 || rep.PlaintextKeys[0] != "/registry/secrets/default/a" {
		t.Fatalf("report = %+v", rep)
	}

	out.Reset()
	errOut.Reset()
	run(ctx, append([]string{"encryption", "status", "--plain"}, flags...), strings.NewReader(""), &out, &errOut)
	for _, want := range []string{"plaintext: 1", "[FAIL] plaintext", "/registry/secrets/default/a", "key secretbox:key1: 2 values"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}

	// An endpoint with nothing behind it names the endpoint.
	out.Reset()
	errOut.Reset()
	dead := []string{"encryption", "status", "--root", t.TempDir(), "--endpoints", "http://127.0.0.1:1", "--timeout", "3s"}
	if code := run(ctx, dead, strings.NewReader(""), &out, &errOut); code != exitFailed || !strings.Contains(errOut.String(), "127.0.0.1:1") {
		t.Fatalf("dead endpoint: exit %d, stderr %q", code, errOut.String())
	}
}
