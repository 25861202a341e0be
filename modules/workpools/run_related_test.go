package workpools_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// keptEvents forwards emitted events and keeps them.
type keptEvents struct {
	events.Emitter
	mu  sync.Mutex
	evs []*events.Event
}

func (k *keptEvents) Emit(ctx context.Context, evs ...*events.Event) error {
	k.mu.Lock()
	k.evs = append(k.evs, evs...)
	k.mu.Unlock()
	return k.Emitter.Emit(ctx, evs...)
}

// TestFlowRunEventsNameTheirWorkQueueAndPool: a run in a pool's queue names
// both in its state events, after its flow (Prefect's related order).
func TestFlowRunEventsNameTheirWorkQueueAndPool(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		kept := &keptEvents{}
		app := newApp(t, d, fx.Decorate(func(e events.Emitter) events.Emitter { kept.Emitter = e; return kept }))
		var obj struct {
			ID          string `json:"id"`
			WorkQueueID string `json:"work_queue_id"`
		}
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "pool-a", "type": "process"}, http.StatusCreated, &obj)
		poolID := obj.ID
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &obj)
		app.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": obj.ID, "work_pool_name": "pool-a",
			"state": map[string]any{"type": "PENDING"}}, http.StatusCreated, &obj)
		app.JSON(http.MethodPost, "/api/flow_runs/"+obj.ID+"/set_state", map[string]any{"state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, nil)
		kept.mu.Lock()
		defer kept.mu.Unlock()
		var running *events.Event
		for _, e := range kept.evs {
			if e.Event == "prefect.flow-run.Running" {
				running = e
			}
		}
		if running == nil || len(running.Related) != 3 {
			t.Fatalf("running event = %+v, want flow, work queue and work pool related", running)
		}
		queue, pool := running.Related[1], running.Related[2]
		if queue.ID() != "prefect.work-queue."+obj.WorkQueueID || queue.Role() != "work-queue" {
			t.Fatalf("work queue resource = %v", queue)
		}
		if typ, _ := pool.Get("prefect.work-pool.type"); pool.ID() != "prefect.work-pool."+poolID || pool.Role() != "work-pool" || typ != "process" {
			t.Fatalf("work pool resource = %v", pool)
		}
		if name, _ := pool.Get(events.LabelName); name != "pool-a" {
			t.Fatalf("work pool resource = %v", pool)
		}
	})
}
