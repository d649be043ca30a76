package certs

import (
	"fmt"
	"slices"
	"strings"

	dcerts "github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/harden"
)

// Answer keys of the certificates step, as the answers file and flags spell them.
const (
	// KeyMode is how certificates are found or made: auto (generate what is missing or
	// failing), existing (use the files as they are; refused when a check fails) or
	// generate (new leaf certificates; the CA is kept when its key is there).
	KeyMode = "certs.mode"
	// KeyKeyType is the kind of private key made: ecdsa-p256 or rsa-2048.
	KeyKeyType = "certs.keyType"
	// KeyNodeName is the CN and a SAN of the server and peer certificates (default:
	// etcd.yaml --name).
	KeyNodeName = "certs.nodeName"
	// KeyAdvertiseIP is an IP SAN of the server and peer certificates (default: the
	// first IP of --advertise-client-urls, a non-loopback one first).
	KeyAdvertiseIP = "certs.advertiseIP"
)

// PathKey returns the answer key that points pair (ca, server, peer,
// healthcheck-client, apiserver-etcd-client) at a file the user chose: part is "cert"
// or "key", the value a path as on the node ("/etc/etcd/tls/server.pem").
func PathKey(pair, part string) string { return "certs.path." + pair + "." + part }

// AnswerKeys lists every answer key of the step: mode, key type, node name, advertise
// IP, then certs.path.<pair>.cert and certs.path.<pair>.key for each pair.
var AnswerKeys = func() []string {
	keys := []string{KeyMode, KeyKeyType, KeyNodeName, KeyAdvertiseIP}
	for _, p := range dcerts.PairNames() {
		keys = append(keys, PathKey(p, "cert"), PathKey(p, "key"))
	}
	return keys
}()

// answers are the user's choices, bound to the form's fields.
type answers struct {
	mode        harden.CertsMode
	keyType     dcerts.KeyType
	nodeName    string
	advertiseIP string
	paths       map[string]*choice // by pair name
}

// choice is a pair's files as the user chose them, node paths; "" keeps the file found.
type choice struct{ cert, key string }

// id names the answer set: generated material is made once per id.
func (a answers) id() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s|%s|%s", a.mode, a.keyType, a.nodeName, a.advertiseIP)
	for _, n := range dcerts.PairNames() {
		if c := a.paths[n]; c != nil {
			fmt.Fprintf(&b, "|%s=%s,%s", n, c.cert, c.key)
		}
	}
	return b.String()
}

// prefill copies the answers given in advance; a value the step cannot use is an error
// naming the key and what it takes.
func (a *answers) prefill(given map[string]string) error {
	for _, k := range AnswerKeys {
		v, ok := given[k]
		if !ok {
			continue
		}
		if err := a.set(k, strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("answer %s=%q: %w", k, v, err)
		}
	}
	return nil
}

func (a *answers) set(k, v string) error {
	switch k {
	case KeyMode:
		m := harden.CertsMode(v)
		if !slices.Contains(harden.CertsModes(), m) {
			return fmt.Errorf("want %s, %s or %s", harden.CertsAuto, harden.CertsExisting, harden.CertsGenerate)
		}
		a.mode = m
	case KeyKeyType:
		if t := dcerts.KeyType(v); t != dcerts.ECDSAP256 && t != dcerts.RSA2048 {
			return fmt.Errorf("want %s or %s", dcerts.ECDSAP256, dcerts.RSA2048)
		}
		a.keyType = dcerts.KeyType(v)
	case KeyNodeName:
		if err := validName(v); err != nil {
			return err
		}
		a.nodeName = v
	case KeyAdvertiseIP:
		if err := validIP(v); err != nil {
			return err
		}
		a.advertiseIP = v
	default:
		pair, part, _ := strings.Cut(strings.TrimPrefix(k, "certs.path."), ".")
		if v != "" && !strings.HasPrefix(v, "/") {
			return fmt.Errorf("give the path as on the node, starting with /")
		}
		a.choose(pair, part, v)
	}
	return nil
}

// choose records a chosen file for pair; part is "cert" or "key".
func (a *answers) choose(pair, part, path string) {
	if a.paths == nil {
		a.paths = map[string]*choice{}
	}
	c := a.paths[pair]
	if c == nil {
		c = &choice{}
		a.paths[pair] = c
	}
	if part == "cert" {
		c.cert = path
	} else {
		c.key = path
	}
}

// record writes the answers back into the session, so that later steps and a saved
// answers file see what was chosen.
func (a answers) record(m map[string]string) {
	m[KeyMode], m[KeyKeyType] = string(a.mode), string(a.keyType)
	m[KeyNodeName], m[KeyAdvertiseIP] = a.nodeName, a.advertiseIP
	for pair, c := range a.paths {
		if c.cert != "" {
			m[PathKey(pair, "cert")] = c.cert
		}
		if c.key != "" {
			m[PathKey(pair, "key")] = c.key
		}
	}
}

func validIP(v string) error {
	if v == "" {
		return nil
	}
	if err := dcerts.CheckIP(v); err != nil {
		return fmt.Errorf("%w; give the node's IP, e.g. 10.0.0.5", err)
	}
	return nil
}

// validName accepts an empty answer (the default) or a node name a certificate can
// hold as a DNS SAN.
func validName(v string) error {
	if v = strings.TrimSpace(v); v == "" {
		return nil
	}
	if err := dcerts.CheckName(v); err != nil {
		return fmt.Errorf("%w; give the node's name, e.g. cp1 or cp1.example.com", err)
	}
	return nil
}
