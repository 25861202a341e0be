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
// send-notification and call-webhook read their block document through the
// API; this server has no blocks module yet, so both fail as Prefect's fail
// for a missing block. Once block documents are served, call-webhook calls
// Webhook blocks itself; notification blocks need their Python classes and
// fail with a reason that says so.
//
// Files: contract.go (TriggeredAction, Dispatcher), dispatcher.go
// (publishing, once this process's executor listens: broker.ReadyGate), executor.go
// (the service), invocation.go (a message being run), spec.go (the action
// types and Prefect's failure reasons), act_command.go (command actions),
// act_deployments.go, act_flowruns.go, act_workers.go, act_blocks.go and
// webhook.go (each kind of action), templates.go, context.go and
// pydatetime.go (Jinja and "__prefect_kind" hydration with Prefect's
// template context), outcome.go (the action events), client.go (the
// in-process API client), pyrepr.go, timedelta.go, ttlset.go (helpers).
package actions

import (
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/broker"
)

// Module provides the Dispatcher and runs the executor service.
var Module = fx.Module("automations.actions",
	fx.Provide(fx.Private, broker.NewReadyGate),
	fx.Provide(
		fx.Annotate(newDispatcher, fx.As(new(Dispatcher))),
		platform.AsService(newExecutor),
	),
)
