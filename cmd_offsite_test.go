package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/etcd-harden/etcd-harden/internal/testetcd"
	"github.com/etcd-harden/etcd-harden/internal/testminio"
)

// recipient is an age public key whose private key was not kept: the scripts seal to it.
const recipient = "age1n79an9mthfed9yt8kpvhdmhg0930e2eplr4rqwenyzm4862e34ksmky88s"

// TestOffsiteScripts runs testdata/offsite against a real etcd with mutual TLS and a real
// MinIO with a bucket; the scripts find them in $ENDPOINT, $CACERT, $CERT, $KEY, $S3 and
// $BUCKET, the store's keys in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
func TestOffsiteScripts(t *testing.T) {
	srv := testetcd.Start(t, testetcd.Options{TLS: true})
	cli := srv.Client(t)
	for i := range 10 {
		if _, err := cli.Put(t.Context(), fmt.Sprintf("/registry/configmaps/default/c%d", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	mio := testminio.Start(t)
	bucket := mio.Bucket(t, false)
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "offsite"),
		RequireExplicitExec: true,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// nosecret stdout|FILE|DIR: the store's keys are in none of them.
			"nosecret": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 1 || neg {
					ts.Fatalf("usage: nosecret stdout|FILE|DIR")
				}
				texts := map[string]string{}
				if fi, err := os.Stat(ts.MkAbs(args[0])); err == nil && fi.IsDir() {
					entries, _ := os.ReadDir(ts.MkAbs(args[0]))
					for _, e := range entries {
						texts[e.Name()] = ts.ReadFile(filepath.Join(args[0], e.Name()))
					}
				} else {
					texts[args[0]] = ts.ReadFile(args[0])
				}
				for name, text := range texts {
					if strings.Contains(text, mio.SecretKey) || strings.Contains(text, mio.AccessKey) {
						ts.Fatalf("%s holds the store's keys", name)
					}
				}
			},
			// mode PERM FILE: FILE has that mode.
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 || neg {
					ts.Fatalf("usage: mode PERM FILE")
				}
				want, err := strconv.ParseUint(args[0], 8, 32)
				ts.Check(err)
				fi, err := os.Stat(ts.MkAbs(args[1]))
				ts.Check(err)
				if uint64(fi.Mode().Perm()) != want {
					ts.Fatalf("%s has mode %v, want %s", args[1], fi.Mode().Perm(), args[0])
				}
			},
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("ENDPOINT", srv.Endpoint)
			e.Setenv("CACERT", srv.TLS.CA)
			e.Setenv("CERT", srv.TLS.ClientCert)
			e.Setenv("KEY", srv.TLS.ClientKey)
			e.Setenv("S3", mio.Endpoint)
			e.Setenv("BUCKET", bucket)
			e.Setenv("RECIPIENT", recipient)
			e.Setenv("AWS_ACCESS_KEY_ID", mio.AccessKey)
			e.Setenv("AWS_SECRET_ACCESS_KEY", mio.SecretKey)
			e.Setenv("NO_COLOR", "1")
			return nil
		},
	})
}
