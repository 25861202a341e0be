// Package workpools is the work pools feature: work pools with their base
// job template, work queues (pool-scoped and the legacy /work_queues/
// routes) with Prefect's priorities, workers and their heartbeats, the
// worker's poll for scheduled flow runs, and the foreman service that marks
// silent workers, pools and queues offline / not ready.
//
// A poll (worker or legacy get_runs) reads and records itself in one write
// transaction; on PostgreSQL the runs it selects are locked FOR UPDATE SKIP
// LOCKED, as Prefect's query, so a poll at the same instant skips them. A
// legacy queue with the deprecated filter (tags, deployment_ids) hands out
// the matching deployment runs of any queue, as Prefect's
// _legacy_get_runs_in_work_queue, and a plain queue's legacy get_runs reads
// runs by queue name, in any pool, as Prefect's query does (legacy_queue.go).
//
// Other modules reach it only through *Lookup (lookup.go), which resolves
// pool and queue names to queue ids, creating queues as Prefect's
// deployment create does, and reads names back for responses, and through
// two hooks: AsPolledHook (told which queues a worker polled) and
// AsForemanCheck (a check run in the foreman's loop; the deployments
// module's marks unpolled deployments NOT_READY).
//
// Routes: routes.go (list), routes_pools.go, routes_queues.go,
// routes_workers.go, routes_poll.go (worker poll, legacy get_runs, queue
// status), routes_collections.go (views bundled in collections/). Bodies:
// actions.go. Filters: filter.go. Reads and writes: store.go, repo_pools.go,
// repo_queues.go. Poll selection: scheduled.go, legacy_queue.go. Foreman: foreman.go. Events:
// events.go. The runs hook (work_pool_name on flow runs): runs_hook.go.
// Storage: migrations/.
//
// The worker websocket (/work_pools/{name}/workers/connect) is not served:
// its 404 makes the 3.9.1 worker fall back to polling and REST heartbeats.
package workpools

import (
	"embed"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the work pools feature. It needs the runs module (table
// flow_run) and the events module's Emitter.
var Module = fx.Module("workpools",
	fx.Provide(
		fx.Private,
		func(d *db.DB, em events.Emitter, log *zap.Logger) *store {
			return &store{db: d, events: &poolEvents{emitter: em, log: log.Named("workpools")}}
		},
		func(s *store, f *filter.Registry) *poolRepo { return &poolRepo{store: s, filters: f} },
		newScheduler,
		newForemanSettings,
	),
	fx.Provide(
		func(s *store) *Lookup { return &Lookup{store: s} },
		fx.Annotate(func(l *Lookup) *runQueues { return &runQueues{lookup: l} }, fx.As(new(runs.WorkQueues))),
		runs.AsRelatedResources(relatedToRuns),
		platform.AsRoutes(newRoutes),
		platform.AsService(newForeman),
		platform.AsFilter(poolsContributor),
		platform.AsFilter(queuesContributor),
		platform.AsFilter(poolQueuesContributor),
		platform.AsFilter(workersContributor),
		platform.AsMigrations(func() migrate.Set {
			return migrate.Set{Module: "workpools", FS: migrationsFS, Dir: "migrations"}
		}),
	),
)
