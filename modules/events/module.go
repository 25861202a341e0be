// Package events is Prefect's events system: events arrive on the websocket
// /events/in (as PrefectEventsClient speaks it) or POST /events, travel on
// the broker topic "events", are stored by the event_persister service
// (idempotent by id, trimmed after the retention period), and are read with
// POST /events/filter, GET /events/filter/next, POST /events/count-by/{x} and
// streamed live on the websocket /events/out. Other modules emit server
// events through the exported Emitter, and consumers that need it order
// events causally with the CausalOrdering of their scope from Orderings
// (in memory, or shared in Redis).
//
// Files: event.go and labels.go (the model), filter.go and filter_sql.go
// (EventFilter in memory and in SQL), repo.go and counting.go (storage),
// publisher.go and backlog.go (publishing with backpressure), ingest.go,
// stream.go, socket.go and routes.go (the API), persister.go and trim.go (the
// service), emitter.go, ordering.go, ordering_redis.go and orderings.go.
package events

import (
	"embed"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/services"
)

//go:embed migrations
var migrationsFS embed.FS

// Module is the events feature. It provides Emitter and Orderings to other
// modules.
var Module = fx.Module("events",
	fx.Provide(
		fx.Private,
		func(d *db.DB) *repo { return &repo{db: d} },
		newBacklog,
		broker.NewReadyGate,
		newPublisher,
		func(b broker.Broker, cfg config.Events, log *zap.Logger) *distributor {
			return newDistributor(b, cfg, log.Named("events"))
		},
	),
	fx.Provide(
		func(p *publisher) Emitter { return &emitter{pub: p} },
		newOrderings,
		platform.AsRoutes(newRoutes),
		platform.AsService(newPersister),
		platform.AsMigrations(func() migrate.Set { return migrate.Set{Module: "events", FS: migrationsFS, Dir: "migrations"} }),
	),
)

// Persister settings (Prefect's names).
const (
	envPersisterBatch    = "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE"
	envPersisterQueueMax = "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_QUEUE_MAX_SIZE"
)

// defaultBatchSize is the most events per transaction unless
// PREFECT_SERVER_SERVICES_EVENT_PERSISTER_BATCH_SIZE says otherwise.
// Prefect's default, 20, suits its timer-driven flushes; here a batch is
// written as soon as it is taken, so its size only caps a backlog's batches.
const defaultBatchSize = 1000

// newBacklog bounds the unpersisted events to the persister's queue size:
// counted in process for the memory broker, read from the consumer group's
// lag for Redis (whose streams are capped).
func newBacklog(ev config.Events, svc config.Services, rc rueidis.Client) (backlog, error) {
	limit, err := svc.Int(envPersisterQueueMax, 50_000)
	if err != nil {
		return nil, err
	}
	if ev.MessagingBroker == config.KindRedis && rc != nil {
		return &streamLag{client: rc, group: persisterGroup, limit: int64(min(limit, broker.DefaultMaxLen/2)),
			every: 250 * time.Millisecond}, nil
	}
	return newCounter(limit), nil
}

func newPublisher(b broker.Broker, g *broker.ReadyGate, bl backlog, ev config.Events, log *zap.Logger) *publisher {
	return &publisher{broker: b, start: g, seen: newSeenCache(seenTTL, seenSize), backlog: bl, lim: newLimits(ev), log: log.Named("events")}
}

func newPersister(b broker.Broker, r *repo, bl backlog, g *broker.ReadyGate, d *db.DB, svc config.Services, ev config.Events, log *zap.Logger) (*persister, error) {
	batch, err := svc.Int(envPersisterBatch, defaultBatchSize)
	if err != nil {
		return nil, err
	}
	enabled, err := svc.Enabled(services.SettingName("event_persister"), true)
	if err != nil {
		return nil, err
	}
	if enabled && svc.RunServices {
		g.Expect()
	}
	trim, err := loadTrimConfig(svc, ev)
	if err != nil {
		return nil, err
	}
	workers := 2 // SQLite has one writer: two overlap decoding with writing
	if d.IsPostgres() {
		workers = 4
	}
	cfg := persisterConfig{batchSize: max(1, batch), workers: workers, drainTimeout: 10 * time.Second, trim: trim}
	return &persister{broker: b, repo: r, backlog: bl, start: g, cfg: cfg, log: log.Named("events.persister")}, nil
}
