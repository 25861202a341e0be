package workpools

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/types"
)

func TestForemanMarksSilentWorkersPoolsAndQueues(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, runs.Module, events.Module, Module)
		ctx := context.Background()
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process"}, http.StatusCreated, nil)
		app.JSON(http.MethodPost, "/api/work_pools/p/workers/heartbeat", map[string]any{"name": "old", "heartbeat_interval_seconds": 5}, http.StatusNoContent, nil)
		app.JSON(http.MethodPost, "/api/work_pools/p/get_scheduled_flow_runs", map[string]any{}, http.StatusOK, nil)

		f := &foreman{store: &store{db: app.DB}, log: zaptest.NewLogger(t),
			settings: foremanSettings{InactivityMultiple: 3, FallbackInterval: 30, QueueLastPolledTimeout: time.Minute}}
		if err := f.tick(ctx); err != nil {
			t.Fatal(err)
		}
		var pool WorkPool
		if err := app.DB.NewSelect().Model(&pool).Where("name = 'p'").Scan(ctx); err != nil || pool.Status != statusReady {
			t.Fatalf("fresh heartbeat: pool %s, %v; want READY", pool.Status, err)
		}

		// 16s of silence is more than 3 x 5s; the queue's poll is 2 minutes old
		past := types.From(time.Now().Add(-16 * time.Second))
		if _, err := app.DB.NewUpdate().Model((*Worker)(nil)).Set("last_heartbeat_time = ?", past).Where("name = 'old'").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := app.DB.NewUpdate().Model((*WorkQueue)(nil)).Set("last_polled = ?", types.From(time.Now().Add(-2*time.Minute))).Where("1 = 1").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.tick(ctx); err != nil {
			t.Fatal(err)
		}
		var w Worker
		if err := app.DB.NewSelect().Model(&w).Where("name = 'old'").Scan(ctx); err != nil || w.Status != workerOffline {
			t.Fatalf("silent worker: %s, %v; want OFFLINE", w.Status, err)
		}
		if err := app.DB.NewSelect().Model(&pool).Where("name = 'p'").Scan(ctx); err != nil || pool.Status != statusNotReady || pool.LastStatusEventID == nil {
			t.Fatalf("pool without workers: %+v, %v; want NOT_READY with a status event", pool, err)
		}
		var q WorkQueue
		if err := app.DB.NewSelect().Model(&q).Where("name = 'default'").Scan(ctx); err != nil || q.Status != statusNotReady {
			t.Fatalf("unpolled queue: %s, %v; want NOT_READY", q.Status, err)
		}
	})
}
