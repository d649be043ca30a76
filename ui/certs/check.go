package certs

import (
	"fmt"
	"strings"
)

// The checks below are the rules of the step's answers, for the answers file
// (ui.LoadAnswers), which is checked whole before anything runs.

// CheckAdvertiseIP checks a certs.advertiseIP answer: an IP address a certificate can
// name; empty takes the one in --advertise-client-urls.
func CheckAdvertiseIP(v string) error { return validIP(strings.TrimSpace(v)) }

// CheckNodeName checks a certs.nodeName answer: it becomes the certificates' CN and a
// DNS SAN, so it must be a DNS name; empty takes etcd.yaml --name.
func CheckNodeName(v string) error { return validName(v) }

// CheckPath checks a certs.path.<pair>.<part> answer: a path as on the node, starting
// with /, or empty to keep the file found.
func CheckPath(v string) error {
	if v = strings.TrimSpace(v); v != "" && !strings.HasPrefix(v, "/") {
		return fmt.Errorf("give the path as on the node, starting with /")
	}
	return nil
}
