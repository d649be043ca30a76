package ui

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/etcd-harden/etcd-harden/ui/backup"
	uicerts "github.com/etcd-harden/etcd-harden/ui/certs"
	uienc "github.com/etcd-harden/etcd-harden/ui/encryption"
	"github.com/etcd-harden/etcd-harden/ui/review"
	"github.com/etcd-harden/etcd-harden/ui/summary"
)

// AnswerKeys lists every prompt's key, in the order the wizard asks, for --answers.
func AnswerKeys() []string {
	keys := slices.Concat(uienc.AnswerKeys, uicerts.AnswerKeys)
	keys = append(keys, review.AnswerAction, review.AnswerDir)
	keys = append(keys, backup.AnswerKeys...)
	return append(keys, summary.AnswerRewrite)
}

// LoadAnswers reads an answers file: a YAML (or JSON) map from prompt keys to answers,
// e.g. `encryption.provider: secretbox`. Lists become comma-separated answers. Unknown
// keys are refused, so a typo never silently leaves a question to its default.
func LoadAnswers(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("answers file: %w", err)
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("answers file %s is not a YAML map of answers: %w", path, err)
	}
	known := AnswerKeys()
	out := make(map[string]string, len(raw))
	var unknown []string
	for k, v := range raw {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
			continue
		}
		out[k] = answerText(v)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("answers file %s: unknown keys %s; the keys are: %s",
			path, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return out, nil
}

// answerText turns a YAML value into the text a prompt would have been given.
func answerText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = answerText(e)
		}
		return strings.Join(parts, ",")
	case float64:
		return fmt.Sprint(v)
	default:
		return fmt.Sprint(v)
	}
}
