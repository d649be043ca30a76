package ui

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestLoadAnswers(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	got, err := LoadAnswers(write("ok.yaml", "encryption.provider: SecretBox\nencryption.resources: [secrets, configmaps]\nencryption.rotate: no\nbackup.keep: 7\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"encryption.provider": "secretbox", "encryption.resources": "secrets,configmaps", "encryption.rotate": "false", "backup.keep": "7"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for name, tc := range map[string]struct{ text, want string }{
		"typo":     {"encryption.provder: secretbox\n", "unknown keys encryption.provder"},
		"not YAML": {"- a\n- b\n", "is not a YAML map of answers"},
	} {
		if _, err := LoadAnswers(write(name+".yaml", tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, tc.want)
		}
	}
	if _, err := LoadAnswers(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file: err = %v", err)
	}
}

// TestAnswersRefused: every kind of answer is checked when the file is read, and the
// refusal names the key, the value and what it takes.
func TestAnswersRefused(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"cluster.bundle: /nonexistent/bundle", `cluster.bundle "/nonexistent/bundle": /nonexistent/bundle has no ca.crt: give the bundle/ folder that ` + "`etcd-harden plan`" + ` wrote on the first node, copied whole (with secrets/)`},
		{"cluster.bundle: [a, b]", `cluster.bundle "- a\n- b": want one value, not a list`},
		{"backup.keep: seven", `backup.keep "seven": give a whole number from 1 to 1000`},
		{"backup.keep: 0", `backup.keep "0": give a whole number from 1 to 1000`},
		{"backup.keep: -3", `backup.keep "-3": give a whole number from 1 to 1000`},
		{"backup.keep: 7.5", `backup.keep "7.5": give a whole number from 1 to 1000`},
		{"backup.keep:", `backup.keep "null": give a whole number from 1 to 1000`},
		{"backup.write: maybe", `backup.write "maybe": want true or false`},
		{"backup.skip: 2", `backup.skip "2": want true or false`},
		{"backup.schedule: weekly", `backup.schedule "weekly": want one of none, cronjob, systemd, both`},
		{"backup.dest: var/backups", `backup.dest "var/backups": give an absolute folder, e.g. /var/backups/etcd`},
		{"review.action: true", `review.action "true": want one of apply, save, none`},
		{`review.dir: ""`, `review.dir "": want a folder for the plan`},
		{"summary.rewrite: please", `summary.rewrite "please": want true or false`},
		{"encryption.provider: aes", `encryption.provider "aes": want one of secretbox, aesgcm, aescbc, kms`},
		{"encryption.rotate: [true]", `encryption.rotate "- true": want one value, not a list`},
		{"encryption.resources: []", `encryption.resources "[]": choose at least one resource`},
		{"encryption.resources: [Secrets]", `encryption.resources "- Secrets": "Secrets": resources are lower case`},
		{"encryption.custom: {a: b}", `encryption.custom "a: b": want a value, not a map`},
		{"encryption.keyName: 'key 1'", `encryption.keyName "key 1": the key name must not contain ':' or spaces`},
		{"encryption.retireKeys: ['key 1']", `encryption.retireKeys "- key 1": "key 1": give a key's name (key-2023) or provider:name (aescbc:key-2023)`},
		{"encryption.retireKeys: 'aescbc:'", `encryption.retireKeys "aescbc:": "aescbc:": give a key's name`},
		{"encryption.kmsEndpoint: /run/kms.sock", `encryption.kmsEndpoint "/run/kms.sock": the endpoint is a unix socket`},
		{"certs.mode: new", `certs.mode "new": want one of auto, existing, generate`},
		{"certs.keyType: ed25519", `certs.keyType "ed25519": want one of ecdsa-p256, rsa-2048`},
		{"certs.nodeName: ../../evil", `certs.nodeName "../../evil": "../../evil" is not a DNS name`},
		{"certs.advertiseIP: node1", `certs.advertiseIP "node1": want an IP address`},
		{"certs.advertiseIP: 0.0.0.0", `certs.advertiseIP "0.0.0.0": "0.0.0.0" is the wildcard address, which no certificate can name`},
		{"certs.path.server.key: server.key", `certs.path.server.key "server.key": give the path as on the node, starting with /`},
	} {
		_, err := ParseAnswers("a.yaml", []byte(tc.text+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), "answers file a.yaml: "+tc.want) {
			t.Errorf("%s: err = %v\nwant it to start with: answers file a.yaml: %s", tc.text, err, tc.want)
		}
	}
}

// readmeAnswers is the answers file the README shows.
func readmeAnswers(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)### The answers file.*?```yaml\n(.*?)```").FindSubmatch(data)
	if m == nil {
		t.Fatal("README.md has no answers file example")
	}
	return m[1]
}

func TestReadmeAnswersAccepted(t *testing.T) {
	got, err := ParseAnswers("README.md", readmeAnswers(t))
	if err != nil {
		t.Fatal(err)
	}
	if got["review.action"] != "apply" || got["backup.keep"] != "7" || got["encryption.resources"] != "secrets" {
		t.Errorf("answers %v", got)
	}
}

// FuzzAnswers: the answers file reader never panics; a file it accepts says the same
// when written back and read again; a file it refuses gets a message that names a key
// or the YAML problem.
func FuzzAnswers(f *testing.F) {
	f.Add(readmeAnswers(f))
	for _, seed := range []string{
		"encryption.provider: secretbox\nencryption.resources: [secrets, configmaps]\nencryption.rotate: false\nbackup.keep: 7\n",
		"review.action: apply\nbackup.keep: seven\ncerts.advertiseIP: 10.0.0.300\n",
		"summary.rewrite: true\n",
		"encryption.provder: secretbox\n",
		"- a\n- b\n",
		`{"backup.keep": 1e3, "certs.nodeName": "cp-1", "encryption.custom": ["a.b", "c"]}`,
		"backup.keep:\ncerts.path.ca.cert: /etc/ca.pem\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := ParseAnswers("a.yaml", data)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "answers file a.yaml") {
				t.Fatalf("a refusal that does not name the file: %v", err)
			}
			namesKey := false
			for _, k := range AnswerKeys() {
				namesKey = namesKey || strings.Contains(msg, k)
			}
			if !namesKey && !strings.Contains(msg, "is not a YAML map of answers") {
				t.Fatalf("a refusal that names neither a key nor the YAML problem: %v", err)
			}
			return
		}
		again, err := yaml.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		reread, err := ParseAnswers("again.yaml", again)
		if err != nil {
			t.Fatalf("accepted %q, but not as written back:\n%s\n%v", data, again, err)
		}
		if len(reread) != len(got) {
			t.Fatalf("%v read back as %v", got, reread)
		}
		for k, v := range got {
			if reread[k] != v {
				t.Fatalf("%s = %q read back as %q", k, v, reread[k])
			}
		}
	})
}
