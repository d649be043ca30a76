// Package ui is the wizard: a bubbletea v2 shell that runs an ordered list of steps,
// and a plain driver that runs the very same steps without a terminal UI. The contract
// between them and the steps is in ui/step.
package ui

import (
	"github.com/etcd-harden/etcd-harden/ui/preflight"
	"github.com/etcd-harden/etcd-harden/ui/step"
)

// DefaultSteps is the wizard's order of steps.
func DefaultSteps() []step.Def {
	return []step.Def{
		{Name: "preflight", New: func() step.Step { return preflight.New() }},
	}
}
