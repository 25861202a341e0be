//go:build !slim || automations

package main

import (
	"context"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/automations"
	"github.com/prefect-server/prefect-server/modules/automations/actions"
)

// automations is optional: left out of slim builds unless tagged in. Its
// triggers hand the actions they fire to the actions executor.
func init() {
	register("automations", fx.Options(automations.Module, actions.Module,
		fx.Provide(func(d actions.Dispatcher) automations.Dispatcher { return triggeredActions{d} })))
}

// triggeredActions passes the triggers' actions to the executor: the two
// TriggeredAction types have the same fields, so one converts to the other.
type triggeredActions struct{ executor actions.Dispatcher }

func (t triggeredActions) Dispatch(ctx context.Context, a automations.TriggeredAction) error {
	return t.executor.Dispatch(ctx, actions.TriggeredAction(a))
}
