package workpools

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/services"
	"github.com/prefect-server/prefect-server/platform/types"
)

// foremanSettings are Prefect's PREFECT_SERVER_SERVICES_FOREMAN_* settings
// this module applies (the deployment timeout belongs to deployments).
type foremanSettings struct {
	Loop                   time.Duration
	InactivityMultiple     int
	FallbackInterval       int
	QueueLastPolledTimeout time.Duration
}

func newForemanSettings(svc config.Services) (foremanSettings, error) {
	var (
		s   foremanSettings
		err error
	)
	if s.Loop, err = svc.Duration("PREFECT_SERVER_SERVICES_FOREMAN_LOOP_SECONDS", 15*time.Second); err != nil {
		return s, err
	}
	if s.InactivityMultiple, err = svc.Int("PREFECT_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE", inactivityMultiple); err != nil {
		return s, err
	}
	if s.FallbackInterval, err = svc.Int("PREFECT_SERVER_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS", defaultHeartbeatInterval); err != nil {
		return s, err
	}
	s.QueueLastPolledTimeout, err = svc.Duration("PREFECT_SERVER_SERVICES_FOREMAN_WORK_QUEUE_LAST_POLLED_TIMEOUT_SECONDS", 60*time.Second)
	return s, err
}

// ForemanCheck is a check another module adds to the foreman's loop (the
// deployments module marks deployments nobody polls NOT_READY, as Prefect's
// foreman does), so that one service and one enable setting cover them all.
type ForemanCheck func(ctx context.Context) error

// AsForemanCheck annotates a constructor returning a ForemanCheck into the
// group the foreman runs after its own checks.
func AsForemanCheck(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"workpools_foreman_checks"`))
}

// foreman is Prefect's foreman service (services/foreman.py): every loop it
// marks workers whose heartbeats stopped OFFLINE, READY pools left with no
// online worker NOT_READY, and READY queues not polled within the timeout
// NOT_READY, emitting the status events Prefect emits; then it runs the
// other modules' checks.
type foreman struct {
	store    *store
	settings foremanSettings
	checks   []ForemanCheck
	log      *zap.Logger
}

type foremanParams struct {
	fx.In
	Store    *store
	Settings foremanSettings
	Checks   []ForemanCheck `group:"workpools_foreman_checks"`
	Log      *zap.Logger
}

func newForeman(p foremanParams) services.Service {
	f := &foreman{store: p.Store, settings: p.Settings, checks: p.Checks, log: p.Log.Named("foreman")}
	return services.Every("foreman", p.Settings.Loop, f.log, f.tick)
}

func (f *foreman) tick(ctx context.Context) error {
	if err := f.workersOffline(ctx); err != nil {
		return err
	}
	if err := f.poolsNotReady(ctx); err != nil {
		return err
	}
	if err := f.queuesNotReady(ctx); err != nil {
		return err
	}
	for _, check := range f.checks {
		if err := check(ctx); err != nil {
			return err
		}
	}
	return nil
}

// workersOffline marks ONLINE workers silent for more than their interval
// (or the fallback) times the inactivity multiple.
func (f *foreman) workersOffline(ctx context.Context) error {
	var online []Worker
	if err := f.store.db.Read.NewSelect().Model(&online).Column("id", "last_heartbeat_time", "heartbeat_interval_seconds").
		Where("status = ?", workerOnline).Scan(ctx); err != nil {
		return fmt.Errorf("read online workers: %w", db.Translate(err))
	}
	now := time.Now()
	var stale []uuid.UUID
	for _, w := range online {
		interval := f.settings.FallbackInterval
		if w.HeartbeatIntervalSeconds != nil {
			interval = *w.HeartbeatIntervalSeconds
		}
		if now.Sub(w.LastHeartbeatTime.Time) > time.Duration(interval*f.settings.InactivityMultiple)*time.Second {
			stale = append(stale, w.ID)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	// A heartbeat recorded after this tick read the workers keeps its
	// worker online.
	res, err := f.store.db.NewUpdate().Model((*Worker)(nil)).Set("status = ?", workerOffline).
		Where("id IN (?) AND status = ?", bun.In(stale), workerOnline).
		Where("last_heartbeat_time < ?", types.From(now)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("mark workers offline: %w", db.Translate(err))
	}
	if n, _ := res.RowsAffected(); n > 0 {
		f.log.Info("marked workers offline", zap.Int64("count", n))
	}
	return nil
}

// poolsNotReady moves READY pools without an ONLINE worker to NOT_READY.
func (f *foreman) poolsNotReady(ctx context.Context) error {
	var pools []WorkPool
	err := f.store.db.Read.NewSelect().Model(&pools).Where("work_pool.status = ?", statusReady).
		Where("NOT EXISTS (SELECT 1 FROM worker WHERE worker.work_pool_id = work_pool.id AND worker.status = ?)", workerOnline).
		Scan(ctx)
	if err != nil {
		return fmt.Errorf("read pools without workers: %w", db.Translate(err))
	}
	for i := range pools {
		before := pools[i]
		after := before
		id, at := newEventID(), types.Now()
		after.Status, after.LastStatusEventID, after.LastTransitionedStatusAt = statusNotReady, &id, &at
		res, err := f.store.db.NewUpdate().Model((*WorkPool)(nil)).Where("id = ? AND status = ?", before.ID, statusReady).
			Set("status = ?", statusNotReady).Set("last_status_event_id = ?", id).
			Set("last_transitioned_status_at = ?", at).Set("updated = ?", at).Exec(ctx)
		if err != nil {
			return fmt.Errorf("mark work pool %q not ready: %w", before.Name, db.Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 1 {
			f.store.events.poolStatus(ctx, &before, &after)
			f.log.Info("marked work pool not ready", zap.String("pool", before.Name))
		}
	}
	return nil
}

// queuesNotReady moves READY queues not polled within the timeout to
// NOT_READY (Prefect's mark_work_queues_not_ready).
func (f *foreman) queuesNotReady(ctx context.Context) error {
	threshold := types.From(time.Now().Add(-f.settings.QueueLastPolledTimeout))
	var queues []WorkQueue
	err := f.store.queuesWithPool(f.store.db.Read).ColumnExpr("work_pool.type AS pool_type").
		Where("work_queue.status = ?", statusReady).Where("work_queue.last_polled IS NOT NULL").
		Where("work_queue.last_polled < ?", threshold).OrderExpr("work_queue.last_polled ASC").Scan(ctx, &queues)
	if err != nil {
		return fmt.Errorf("read unpolled queues: %w", db.Translate(err))
	}
	for i := range queues {
		q := &queues[i]
		res, err := f.store.db.NewUpdate().Model((*WorkQueue)(nil)).Set("status = ?", statusNotReady).
			Where("id = ? AND status = ? AND last_polled < ?", q.ID, statusReady, threshold).Exec(ctx)
		if err != nil {
			return fmt.Errorf("mark work queue %s not ready: %w", q.ID, db.Translate(err))
		}
		if n, _ := res.RowsAffected(); n == 1 {
			q.Status = statusNotReady
			f.store.events.queueStatus(ctx, q, q.PoolType)
		}
	}
	return nil
}
