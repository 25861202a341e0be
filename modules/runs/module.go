// Package runs is the flow-run and task-run feature: create (idempotent),
// read, filter, count, paginate, update and delete runs, read their state
// history, and orchestrate their state transitions through the core
// policies plus the rules other modules contribute (platform/orchestration).
//
// Routes: routes.go, routes_list.go, resume.go (POST /flow_runs/{id}/resume)
// and input.go (the flow_run_input key/value store of paused runs); history,
// lateness, graph, bulk operations, labels, logs download and the UI routes
// in routes_features.go (history.go, graph.go, bulk.go, logs_download.go,
// ui.go, dashboard.go). Model and bodies: model.go, actions.go.
// Filters: filter.go. Orchestration: orchestrate.go, rules.go,
// rules_pause.go, rules_task.go, transforms.go. Storage: repo.go and migrations/. The
// task_run_recorder service (recorder.go, recorder_write.go) records the
// task runs clients report as events. services.go holds the late_runs,
// pause_expirations and cancellation_cleanup services. Background tasks
// (task.delay(), `prefect task serve`): background.go (BackgroundTaskPolicy,
// the per-task-key queues, the task-worker registry) and
// background_routes.go (the /task_runs/subscriptions/scheduled websocket,
// /task_workers/filter).
//
// Every validated flow-run state change emits Prefect's
// prefect.flow-run.<State name> event through the events module's Emitter
// once its transaction commits (events.go). Its related resources are the
// flow, the parent task run, their tags, the creator, and whatever other
// modules contribute: a module that owns objects a run points at (the
// deployment, its work queue and pool) provides a RelatedResources function
// with AsRelatedResources; it gets a RelatedRunRef and the state's
// transaction.
package runs

import (
	"embed"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/services"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the runs feature. It needs the flows module (table "flow"),
// the logs module's Reader and a broker carrying the events module's topic.
var Module = fx.Module("runs",
	fx.Provide(
		fx.Private,
		newPolicies,
		newStateEvents,
		newRunServices,
		newTaskQueues,
		newBackground,
		newRepo,
	),
	fx.Provide(
		newFlowRunCreator,
		func(r *repo) *FlowRunReader { return &FlowRunReader{repo: r} },
		platform.AsRoutes(newRoutes),
		platform.AsRoutes(newFeatureRoutes),
		platform.AsService(newRecorder),
		platform.AsService(func(s *runServices) services.Service { return s.lateRuns() }),
		platform.AsService(func(s *runServices) services.Service { return s.pauseExpirations() }),
		platform.AsService(func(s *runServices) services.Service { return s.cancellationCleanup() }),
		platform.AsFilter(func() filter.Contributor { return contributors()[0] }),
		platform.AsFilter(func() filter.Contributor { return contributors()[1] }),
		platform.AsMigrations(func() migrate.Set { return migrate.Set{Module: "runs", FS: migrationsFS, Dir: "migrations"} }),
	),
)
