// Package automations is Prefect's automations feature: automations (a
// trigger and the actions to take when it fires) stored with their related
// resources, the ten /automations routes and /templates/validate, and the
// prefect.automation.created/updated/deleted events; and the triggers
// service, which evaluates automations against the events stream and fires
// them (prefect.automation.triggered, then each action to the Dispatcher).
//
// Bodies are validated as Prefect's pydantic models (schema.go, with the
// trigger and action unions in trigger_schema.go and action_schema.go), and
// stored with Prefect's defaults filled in. Routes: routes.go and
// templates.go. Storage: repo.go, filter.go and migrations/. Triggers
// engine: engine.go (the service), engine_model.go (trigger trees and
// matching), evaluate.go and buckets.go (Prefect's bucketing), firing.go
// (firings, composite triggers, state-change events), dispatch.go (the
// contract with the actions executor).
package automations

import (
	"embed"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the automations feature.
var Module = fx.Module("automations",
	fx.Provide(
		fx.Private,
		func(d *db.DB, f *filter.Registry) *repo { return &repo{db: d, filters: f} },
		newLifecycle,
	),
	fx.Provide(
		platform.AsRoutes(newRoutes),
		platform.AsService(newEngine),
		platform.AsFilter(contributor),
		platform.AsMigrations(func() migrate.Set {
			return migrate.Set{Module: "automations", FS: migrationsFS, Dir: "migrations"}
		}),
	),
)
