// Package platform is what every feature module builds on: configuration,
// logging, the database and its migrations, the message broker, lease
// storage, tracing, the HTTP server and the background-service runner. It
// offers one extension point per kind of contribution (routes, migrations,
// services, filters) and imports no module.
package platform

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/leases"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/redisx"
	"github.com/prefect-server/prefect-server/platform/services"
	"github.com/prefect-server/prefect-server/platform/tracing"
)

// Version is the Prefect server version this server is compatible with; the
// client compares it with its own.
const Version = "3.9.1"

// AsRoutes annotates a constructor of api.Routes into the routes group.
func AsRoutes(f any) any { return fx.Annotate(f, fx.ResultTags(`group:"routes"`)) }

// AsMigrations annotates a constructor of migrate.Set into the migrations group.
func AsMigrations(f any) any { return fx.Annotate(f, fx.ResultTags(`group:"migrations"`)) }

// AsService annotates a constructor of services.Service into the services group.
func AsService(f any) any {
	return fx.Annotate(f, fx.As(new(services.Service)), fx.ResultTags(`group:"services"`))
}

// AsFilter annotates a constructor of filter.Contributor into the filters group.
func AsFilter(f any) any { return fx.Annotate(f, fx.ResultTags(`group:"filters"`)) }

// Module provides the platform. The application supplies config.Config.
var Module = fx.Module("platform",
	fx.Provide(
		sections,
		newDB,
		newRedis,
		newBroker,
		newLeaseStorage,
		newTracing,
		newFilters,
		newHandler,
		newRunner,
	),
	// Order matters: fx stops hooks in reverse, so the HTTP server stops first
	// (in-flight requests finish), then the services (they flush), then the
	// broker and the database that were made before them.
	fx.Invoke(migrateOnStart),
	// Build the broker and lease storage at start even before a module uses
	// them, so that an unreachable Redis fails start-up, not a later request.
	fx.Invoke(func(broker.Broker, leases.Storage) {}),
	fx.Invoke(startServices),
	fx.Invoke(startServer),
)

// sectionsOut hands each component only its own part of the configuration.
type sectionsOut struct {
	fx.Out
	API         config.API
	Database    config.Database
	Events      config.Events
	Redis       config.Redis
	Concurrency config.Concurrency
	Services    config.Services
	Tracing     config.Tracing
}

func sections(c config.Config) sectionsOut {
	return sectionsOut{API: c.API, Database: c.Database, Events: c.Events, Redis: c.Redis,
		Concurrency: c.Concurrency, Services: c.Services, Tracing: c.Tracing}
}

func newDB(lc fx.Lifecycle, cfg config.Database, log *zap.Logger) (*db.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectionTimeout+5*time.Second)
	defer cancel()
	d, err := db.Open(ctx, cfg, log.Named("db"))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(d.Close))
	return d, nil
}

type migrateParams struct {
	fx.In
	DB   *db.DB
	Cfg  config.Database
	Sets []migrate.Set `group:"migrations"`
	Log  *zap.Logger
}

// migrateOnStart brings the schema up to date before anything serves, unless
// PREFECT_SERVER_DATABASE_MIGRATE_ON_START is false.
func migrateOnStart(lc fx.Lifecycle, p migrateParams) {
	if !p.Cfg.MigrateOnStart {
		return
	}
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		_, err := migrate.Up(ctx, p.DB, p.Sets, p.Log.Named("migrate"))
		return err
	}))
}

// usesRedis reports whether any component is configured for Redis.
func usesRedis(ev config.Events, cc config.Concurrency) bool {
	return ev.MessagingBroker == config.KindRedis || ev.MessagingCache == config.KindRedis ||
		ev.CausalOrdering == config.KindRedis || cc.LeaseStorage == config.KindRedis
}

// newRedis connects to Redis only when something is configured to use it;
// otherwise it returns a nil client.
func newRedis(lc fx.Lifecycle, cfg config.Redis, ev config.Events, cc config.Concurrency) (rueidis.Client, error) {
	if !usesRedis(ev, cc) {
		return nil, nil
	}
	c, err := redisx.NewClient(redisx.Options{URL: cfg.URL, Host: cfg.Host, Port: cfg.Port, DB: cfg.DB,
		Username: cfg.Username, Password: cfg.Password, SSL: cfg.SSL})
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(c.Close))
	return c, nil
}

// memoryBacklogLimit is how many messages a durable consumer of the
// in-process broker may fall behind before publishers wait: about 15 MB of
// events, enough to keep batched consumers busy, small enough for the memory
// target under a sustained load the database cannot keep up with.
const memoryBacklogLimit = 10_000

func newBroker(lc fx.Lifecycle, ev config.Events, rc rueidis.Client) broker.Broker {
	var b broker.Broker
	if ev.MessagingBroker == config.KindRedis {
		b = broker.NewRedis(rc, broker.RedisOptions{})
	} else {
		b = broker.NewMemory(broker.WithBacklogLimit(memoryBacklogLimit))
	}
	lc.Append(fx.StopHook(b.Close))
	return b
}

func newLeaseStorage(cc config.Concurrency, rc rueidis.Client) leases.Storage {
	if cc.LeaseStorage == config.KindRedis {
		return leases.NewRedis(rc, leases.RedisOptions{})
	}
	return leases.NewMemory()
}

func newTracing(lc fx.Lifecycle, cfg config.Tracing) (*tracing.Provider, error) {
	p, err := tracing.New(context.Background(), cfg, Version)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return p.Shutdown(ctx)
	}))
	return p, nil
}

type filtersParams struct {
	fx.In
	Contributors []filter.Contributor `group:"filters"`
}

func newFilters(p filtersParams) (*filter.Registry, error) { return filter.NewRegistry(p.Contributors) }

type handlerParams struct {
	fx.In
	Cfg     config.API
	Routes  []api.Routes `group:"routes"`
	Log     *zap.Logger
	Tracing *tracing.Provider
}

func newHandler(p handlerParams) (http.Handler, error) {
	return api.NewHandler(p.Cfg, p.Routes, p.Log.Named("api"), p.Tracing.Enabled())
}

// startServer serves the API unless this process runs services only.
func startServer(lc fx.Lifecycle, cfg config.API, svc config.Services, h http.Handler, log *zap.Logger) {
	if !svc.RunAPI {
		return
	}
	s := api.NewServer(cfg, h, log.Named("http"))
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
}

type runnerParams struct {
	fx.In
	Services   []services.Service `group:"services"`
	Cfg        config.Services
	Log        *zap.Logger
	Shutdowner fx.Shutdowner
}

func newRunner(p runnerParams) (*services.Runner, error) {
	all := p.Services
	if !p.Cfg.RunServices {
		all = nil
	}
	fail := func(err error) {
		if serr := p.Shutdowner.Shutdown(fx.ExitCode(1)); serr != nil {
			p.Log.Error("could not stop after a service failed", zap.Error(serr), zap.NamedError("service_error", err))
		}
	}
	r, err := services.NewRunner(all, p.Cfg.Enabled, p.Log.Named("services"), fail)
	if err != nil {
		return nil, fmt.Errorf("configure background services: %w", err)
	}
	return r, nil
}

func startServices(lc fx.Lifecycle, r *services.Runner) {
	lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
}
