// Package actions carries out the actions that automations trigger, as
// Prefect's actions service does (prefect/server/events/actions.py and
// events/services/actions.py).
//
// The triggers engine hands each fired action to the Dispatcher, which
// publishes it on the broker topic "actions". The executor (the "actions"
// service, switched with the triggers service) consumes that topic in one
// consumer group and runs every action type Prefect 3.9.1's server runs.
// Actions act by calling this server's own API in process, as Prefect's
// call theirs through an in-memory transport: each goes through the same
// validation and orchestration rules as a client's request, and this
// package depends on no other module's Go API. Each finished action emits
// prefect.automation.action.triggered, then .executed or .failed.
//
// A message is acknowledged once its action has run or failed for good
// (Prefect's ActionFailed); an unexpected error leaves it to be delivered
// again, up to a few times. An action that succeeded is remembered for an
// hour by its firing and index, so a redelivered message does not run it
// twice.
//
// Files: contract.go (TriggeredAction, Dispatcher), dispatcher.go,
// executor.go (the service), invocation.go (a message being run), spec.go
// (the action types), act_*.go (each type), templates.go and context.go
// (run-deployment's parameters: hydration and Jinja), outcome.go (the
// action events), client.go (the in-process API client).
package actions

import (
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
)

// Module provides the Dispatcher and runs the executor service.
var Module = fx.Module("automations.actions",
	fx.Provide(fx.Private, newReadyGate),
	fx.Provide(
		fx.Annotate(newDispatcher, fx.As(new(Dispatcher))),
		platform.AsService(newExecutor),
	),
)
