// Package runs is the flow-run and task-run feature: create (idempotent),
// read, filter, count, paginate, update and delete runs, read their state
// history, and orchestrate their state transitions through the core
// policies plus the rules other modules contribute (platform/orchestration).
//
// Routes: routes.go, routes_list.go. Model and bodies: model.go, actions.go.
// Filters: filter.go. Orchestration: orchestrate.go, rules.go,
// rules_task.go, transforms.go. Storage: repo.go and migrations/. The
// task_run_recorder service (recorder.go, recorder_write.go) records the
// task runs clients report as events.
package runs

import (
	"embed"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the runs feature. It needs the flows module (table "flow") and
// a broker carrying the events module's topic.
var Module = fx.Module("runs",
	fx.Provide(
		fx.Private,
		newPolicies,
		newRepo,
	),
	fx.Provide(
		newFlowRunCreator,
		func(r *repo) *FlowRunReader { return &FlowRunReader{repo: r} },
		platform.AsRoutes(newRoutes),
		platform.AsService(newRecorder),
		platform.AsFilter(func() filter.Contributor { return contributors()[0] }),
		platform.AsFilter(func() filter.Contributor { return contributors()[1] }),
		platform.AsMigrations(func() migrate.Set { return migrate.Set{Module: "runs", FS: migrationsFS, Dir: "migrations"} }),
	),
)
