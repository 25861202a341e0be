// Package variables is the variables feature: named JSON values with tags
// that flows read at run time. Create, read by id or name, filter, count,
// update and delete them by id or name.
//
// Routes: routes.go. Model and bodies: model.go. Filter: filter.go.
// Storage: repo.go and migrations/.
package variables

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

// Module is the variables feature.
var Module = fx.Module("variables",
	fx.Provide(
		fx.Private,
		func(d *db.DB, f *filter.Registry) *repo { return &repo{db: d, filters: f} },
	),
	fx.Provide(
		platform.AsRoutes(newRoutes),
		platform.AsFilter(contributor),
		platform.AsMigrations(func() migrate.Set {
			return migrate.Set{Module: "variables", FS: migrationsFS, Dir: "migrations"}
		}),
	),
)
