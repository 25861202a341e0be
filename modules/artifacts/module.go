// Package artifacts is the artifacts feature: create, read, filter, count,
// update and delete artifacts, and keep artifact_collection (the latest
// artifact of each key) up to date as Prefect does, for the /latest
// endpoints.
//
// Routes: routes.go. Model and bodies: model.go. Filters: filter.go.
// Storage: repo.go and migrations/. The runs module's flow-run graph reads
// a run's artifacts through graph.go (runs.GraphArtifacts).
//
// Artifacts name their flow run and task run by id only, without foreign
// keys, as Prefect's artifact table does.
package artifacts

import (
	"embed"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the artifacts feature.
var Module = fx.Module("artifacts",
	fx.Provide(
		fx.Private,
		func(d *db.DB, f *filter.Registry) *repo { return &repo{db: d, filters: f} },
	),
	fx.Provide(
		platform.AsRoutes(newRoutes),
		fx.Annotate(func(d *db.DB) *graphArtifacts { return &graphArtifacts{db: d} }, fx.As(new(runs.GraphArtifacts))),
		platform.AsMigrations(func() migrate.Set { return migrate.Set{Module: "artifacts", FS: migrationsFS, Dir: "migrations"} }),
	),
)
