package encryption

import "strings"

// The checks below are the rules the step's questions use, for the answers file
// (ui.LoadAnswers), which is checked whole before anything runs.

// CheckKeyName checks an encryption.keyName answer ("" takes key-YYYYMMDD).
func CheckKeyName(v string) error { return validKeyName(v) }

// CheckResources checks an encryption.resources answer: at least one resource, each
// lower case as kubectl api-resources names it.
func CheckResources(v string) error { return validResources(nil, v) }

// CheckCustom checks an encryption.custom answer: like CheckResources, but may be empty.
func CheckCustom(v string) error {
	if strings.TrimSpace(v) == "" {
		return nil
	}
	return validResources(nil, v)
}

// CheckKMSName checks an encryption.kmsName answer.
func CheckKMSName(v string) error { return validKMSName(v) }

// CheckKMSEndpoint checks an encryption.kmsEndpoint answer: unix:///path.
func CheckKMSEndpoint(v string) error { return validEndpoint(v) }

// CheckRetireKeys checks an encryption.retireKeys answer: key names or provider:name
// ids, comma-separated, without spaces; may be empty.
func CheckRetireKeys(v string) error { return validRetireKeys(v) }
