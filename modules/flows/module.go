// Package flows is the flows feature: create (idempotent by name), read,
// filter, count, paginate, update and delete flows, and the "flows" filter
// that other modules use to select their rows by flow.
//
// Routes: routes.go. Model and bodies: model.go. Filter: filter.go.
// Storage: repo.go and migrations/.
package flows

import (
	"embed"
	"errors"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the flows feature.
var Module = fx.Module("flows",
	fx.Provide(
		fx.Private,
		func(d *db.DB, f *filter.Registry) *repo { return &repo{db: d, filters: f} },
	),
	fx.Provide(
		platform.AsRoutes(newRoutes),
		platform.AsFilter(contributor),
		platform.AsMigrations(func() migrate.Set { return migrate.Set{Module: "flows", FS: migrationsFS, Dir: "migrations"} }),
	),
)

func isNotFound(err error) bool { return errors.Is(err, db.ErrNotFound) }
