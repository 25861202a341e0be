// Package deployments is the deployments feature, as Prefect 3.9.1 has it:
// create (an upsert by flow and name), read (by id and by flow/deployment
// name), filter, count, paginate, update, delete and pause/resume
// deployments; their schedules (interval, cron and rrule, with timezones and
// Prefect's DST behaviour) and the scheduler service that creates their runs
// ahead of time; runs created from a deployment (parameters merged,
// hydrated - Jinja templates rendered in Prefect's sandbox by platform/jinja,
// workspace variables read - and validated against the deployment's schema
// when it enforces one; PATCH stores new parameters hydrated and validates
// them too, "required" ignored); job variables checked against the work
// pool's base job template (on create, on runs with the pool's defaults, on
// a PATCH naming the pool); the runner's poll for scheduled runs; the
// deprecated work_queue_check (the legacy queues whose filter would pick
// the deployment up); and the "deployments" filter that other modules use
// to select their rows by deployment.
//
// Work queues are resolved through the workpools module's Lookup; flow runs
// are created through the runs module's FlowRunCreator, so that their first
// state is orchestrated.
//
// Where we differ from Prefect: an interval of whole days in a DST timezone
// keeps the anchor's wall time on every date rather than the time a gap
// once moved it to; the text after "Invalid jinja: " in a template error is
// gonja's, not Jinja2's (platform/jinja lists its other differences), and a template that is not a string is a 400 (a 500
// in Prefect); work_queue_check lists queues without a filter too, as
// Prefect answers on SQLite.
//
// Routes: routes.go, routes_runs.go, routes_schedules.go. Bodies:
// actions.go. Schedules: schedule.go. Scheduler: scheduler.go. The
// foreman's deployment check (NOT_READY when unpolled): foreman.go. Parameters:
// params.go, update_params.go, schema_validate.go, job_variables.go. Slugged
// schedule updates: schedule_slugs.go. Work queues: queues.go. Filter: filter.go. Storage: repo.go
// and migrations/.
package deployments

import (
	"embed"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/migrate"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/services"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the deployments feature. It needs the flows, runs and workpools
// modules.
var Module = fx.Module("deployments",
	fx.Provide(
		fx.Private,
		newDeploymentEvents,
		func(d *db.DB, f *filter.Registry, p *workpools.Lookup, l *concurrency.DeploymentSlots, e *deploymentEvents) *repo {
			return &repo{db: d, filters: f, pools: p, limits: l, events: e}
		},
		newSchedulerConfig,
		newConcurrencySettings,
		newNotReadyAfter,
		func(l *concurrency.DeploymentSlots, s concurrencySettings) *concurrencyRules {
			return &concurrencyRules{limits: l, settings: s}
		},
		func(d *db.DB, fr *runs.FlowRunCreator, c schedulerConfig, log *zap.Logger) *scheduler {
			return newScheduler(d, fr, c, log)
		},
	),
	fx.Provide(
		platform.AsRoutes(newRoutes),
		platform.AsService(func(s *scheduler) services.Service { return s.service() }),
		platform.AsFilter(contributor),
		o.AsFlowRule(func(c *concurrencyRules) o.Rule { return c.secureRule() }),
		o.AsFlowRule(func(c *concurrencyRules) o.Rule { return c.validateAtRunningRule() }),
		o.AsFlowTransform(func(c *concurrencyRules) o.Transform { return c.preserveLeaseTransform() }),
		o.AsFlowTransform(func(c *concurrencyRules) o.Transform { return c.releaseTransform() }),
		runs.AsRelatedResources(relatedToRuns),
		workpools.AsPolledHook(func(r *repo) workpools.PolledHook { return r.markQueuesReady }),
		workpools.AsForemanCheck(foremanCheck),
		platform.AsMigrations(func() migrate.Set {
			return migrate.Set{Module: "deployments", FS: migrationsFS, Dir: "migrations"}
		}),
	),
)
