package ui

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	dcerts "github.com/etcd-harden/etcd-harden/steps/certs"
	"github.com/etcd-harden/etcd-harden/steps/encryption"
	"github.com/etcd-harden/etcd-harden/steps/harden"
	"github.com/etcd-harden/etcd-harden/steps/snapshot"
	"github.com/etcd-harden/etcd-harden/ui/backup"
	uicerts "github.com/etcd-harden/etcd-harden/ui/certs"
	uienc "github.com/etcd-harden/etcd-harden/ui/encryption"
	"github.com/etcd-harden/etcd-harden/ui/preflight"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/summary"
)

// AnswerKeys lists every prompt's key, in the order the wizard asks, for --answers.
func AnswerKeys() []string {
	keys := slices.Concat(preflight.AnswerKeys, uienc.AnswerKeys, uicerts.AnswerKeys)
	keys = append(keys, review.AnswerAction, review.AnswerDir)
	keys = append(keys, backup.AnswerKeys...)
	return append(keys, summary.AnswerRewrite)
}

// answerRule is what one answer key takes. read returns the value the steps are given
// (booleans as true/false, choices in lower case) or what is expected instead.
type answerRule struct {
	read func(v string) (string, error)
	list bool   // a YAML list is allowed (joined with commas)
	yes  string // for an act that writes the node: the answer --yes gives
}

// answerRules is the one table of what every answer takes, checked when the answers
// file is read, before anything runs. The rules are the steps' own.
func answerRules() map[string]answerRule {
	r := map[string]answerRule{
		preflight.KeyBundle: {read: check(preflight.CheckBundle)}, // empty on the first node

		uienc.KeyProvider:    {read: oneOf(names(encryption.Choices())...)},
		uienc.KeyKMSName:     {read: check(orEmpty(uienc.CheckKMSName))}, // empty unless kms
		uienc.KeyKMSEndpoint: {read: check(orEmpty(uienc.CheckKMSEndpoint))},
		uienc.KeyResources:   {read: check(uienc.CheckResources), list: true},
		uienc.KeyCustom:      {read: check(uienc.CheckCustom), list: true},
		uienc.KeyKeyName:     {read: check(uienc.CheckKeyName)},
		uienc.KeyRotate:      {read: boolean},
		uienc.KeyRetireKeys:  {read: check(uienc.CheckRetireKeys), list: true},
		uienc.KeyAutoReload:  {read: boolean},

		uicerts.KeyMode:        {read: oneOf(names(harden.CertsModes())...)},
		uicerts.KeyKeyType:     {read: oneOf(string(dcerts.ECDSAP256), string(dcerts.RSA2048))},
		uicerts.KeyNodeName:    {read: check(uicerts.CheckNodeName)},
		uicerts.KeyAdvertiseIP: {read: check(ipAddress)},

		review.AnswerAction: {read: oneOf(review.ActionApply, review.ActionSave, review.ActionNone), yes: review.ActionApply},
		review.AnswerDir:    {read: check(nonEmpty("a folder for the plan, e.g. ./etcd-harden-plan"))},

		backup.KeyDest:       {read: check(backup.CheckDest)},
		backup.KeySchedule:   {read: oneOf(snapshot.Schedules...)},
		backup.KeyEncryptTo:  {read: check(backup.CheckEncryptTo), list: true},
		backup.KeyS3Endpoint: {read: check(backup.CheckS3Endpoint)},
		backup.KeyKeep:       {read: check(backup.CheckKeep)},
		backup.KeyWrite:      {read: boolean, yes: "true"},
		backup.KeySkip:       {read: boolean},
		backup.KeyRehearse:   {read: check(snapshot.CheckRehearsal)},

		summary.AnswerRewrite: {read: boolean, yes: "true"},
	}
	for _, k := range uicerts.AnswerKeys {
		if strings.HasPrefix(k, "certs.path.") {
			r[k] = answerRule{read: check(uicerts.CheckPath)}
		}
	}
	return r
}

// YesAnswers are the answers --yes gives: yes to every act that writes the node (apply
// the plan, write the schedule files, the lab's Secret rewrite). Answers given in the
// answers file come first.
func YesAnswers() map[string]string {
	out := map[string]string{}
	for k, r := range answerRules() {
		if r.yes != "" {
			out[k] = r.yes
		}
	}
	return out
}

// check makes a rule of a step's check, keeping the value as given.
func check(fn func(string) error) func(string) (string, error) {
	return func(v string) (string, error) { return v, fn(v) }
}

// names are the values of a list of string constants, for oneOf.
func names[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

// oneOf takes one of values, in any case.
func oneOf(values ...string) func(string) (string, error) {
	return func(v string) (string, error) {
		if w := strings.ToLower(strings.TrimSpace(v)); slices.Contains(values, w) {
			return w, nil
		}
		return "", fmt.Errorf("want one of %s", strings.Join(values, ", "))
	}
}

// boolean takes true or false (yes, no, 1, 0 too), and gives true or false.
func boolean(v string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "y", "1":
		return "true", nil
	case "false", "no", "n", "0":
		return "false", nil
	}
	return "", errors.New("want true or false")
}

// orEmpty lets an answer be empty (a question that does not apply) or pass fn.
func orEmpty(fn func(string) error) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			return nil
		}
		return fn(v)
	}
}

// ipAddress is the step's own rule (an IP a certificate can name: not 0.0.0.0 or ::),
// with the answers file's wording for what is no IP at all.
func ipAddress(v string) error {
	if v = strings.TrimSpace(v); v != "" && net.ParseIP(v) == nil {
		return fmt.Errorf("want an IP address, e.g. 10.0.0.5")
	}
	return uicerts.CheckAdvertiseIP(v)
}

func nonEmpty(what string) func(string) error {
	return func(v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("want %s", what)
		}
		return nil
	}
}

// LoadAnswers reads an answers file; see ParseAnswers.
func LoadAnswers(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("answers file: %w", err)
	}
	return ParseAnswers(path, data)
}

// ParseAnswers reads the answers file named name: a YAML (or JSON) map from prompt keys
// to answers, e.g. `encryption.provider: secretbox`. Lists become comma-separated
// answers. Unknown keys are refused, so a typo never silently leaves a question to its
// default, and so is every value its key does not take (answerRules), so a bad answer
// stops the run before anything is written, not half way through it.
func ParseAnswers(name string, data []byte) (map[string]string, error) {
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("answers file %s is not a YAML map of answers: %w", name, err)
	}
	known := AnswerKeys()
	var unknown []string
	for k := range raw {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("answers file %s: unknown keys %s; the keys are: %s",
			name, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	rules := answerRules()
	out := make(map[string]string, len(raw))
	var bad []string
	for _, k := range known { // in the order the wizard asks
		v, ok := raw[k]
		if !ok {
			continue
		}
		rule := rules[k]
		text, err := answerText(v, rule.list)
		if err == nil {
			text, err = rule.read(text)
		}
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s %s: %v", k, shown(v), err))
			continue
		}
		out[k] = text
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("answers file %s: %s", name, strings.Join(bad, "; "))
	}
	return out, nil
}

// answerText turns a YAML value into the text a prompt would have been given: a
// scalar, or for list keys a list of scalars joined with commas.
func answerText(v any, list bool) (string, error) {
	if l, ok := v.([]any); ok {
		if !list {
			return "", errors.New("want one value, not a list")
		}
		parts := make([]string, len(l))
		for i, e := range l {
			s, err := scalarText(e)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
	return scalarText(v)
}

func scalarText(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	}
	return "", fmt.Errorf("want a value, not a %s", kind(v))
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "map"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}

// shown quotes a value as the file has it, for messages.
func shown(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, err := yaml.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strconv.Quote(strings.TrimSpace(string(b)))
}
