// Package layering holds no code: its test asserts the project's import rules (steps/
// draws nothing and knows no wizard, ui/ knows no lab, the commands reach the wizard's
// steps only through ui), read from `go list -deps`, so that they stay true.
package layering
