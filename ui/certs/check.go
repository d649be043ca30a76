package certs

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The checks below are the rules of the step's answers, for the answers file
// (ui.LoadAnswers), which is checked whole before anything runs.

// CheckAdvertiseIP checks a certs.advertiseIP answer: an IP address.
func CheckAdvertiseIP(v string) error { return validIP(strings.TrimSpace(v)) }

// CheckNodeName checks a certs.nodeName answer: it becomes the certificates' CN and a
// DNS SAN, so it must be a DNS name (lower case letters, digits, '-' and '.'); empty
// takes etcd.yaml --name.
func CheckNodeName(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil // etcd.yaml --name
	}
	if errs := validation.IsDNS1123Subdomain(strings.TrimSpace(v)); len(errs) > 0 {
		return fmt.Errorf("%q is not a DNS name (%s); give the node's name as etcd.yaml --name has it, e.g. cp1", v, errs[0])
	}
	return nil
}

// CheckPath checks a certs.path.<pair>.<part> answer: a path as on the node, starting
// with /, or empty to keep the file found.
func CheckPath(v string) error {
	if v = strings.TrimSpace(v); v != "" && !strings.HasPrefix(v, "/") {
		return fmt.Errorf("give the path as on the node, starting with /")
	}
	return nil
}
