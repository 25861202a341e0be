// Package logs is the logs feature: POST /logs/ stores a batch of log lines
// (Prefect's APILogHandler sends them), POST /logs/filter reads them, and the
// websocket /logs/out streams new ones live when
// PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED is set.
//
// Routes: routes.go and stream.go. Model and bodies: model.go. Filter:
// filter.go and text.go. Storage: repo.go and migrations/. Other modules
// read and delete a flow run's logs through Reader (export.go).
//
// Logs name their flow run and task run by id only, without foreign keys,
// as Prefect's log table does: a run may be deleted before its logs are.
package logs

import (
	"embed"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the logs feature.
var Module = fx.Module("logs",
	fx.Provide(
		fx.Private,
		func(d *db.DB) *repo { return &repo{db: d} },
		newStreamConfig,
	),
	fx.Provide(
		NewReader,
		platform.AsRoutes(newRoutes),
		platform.AsMigrations(func() migrate.Set { return migrate.Set{Module: "logs", FS: migrationsFS, Dir: "migrations"} }),
	),
)
