package workpools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Prefect's DEFAULT_HEARTBEAT_INTERVAL_SECONDS and
// INACTIVITY_HEARTBEAT_MULTIPLE: a worker silent for three intervals is
// OFFLINE.
const (
	defaultHeartbeatInterval = 30
	inactivityMultiple       = 3
)

// offlineAfter is how long a worker may stay silent and still be ONLINE.
func offlineAfter(intervalSeconds *int) time.Duration {
	s := defaultHeartbeatInterval
	if intervalSeconds != nil && *intervalSeconds != 0 {
		s = *intervalSeconds
	}
	return time.Duration(s*inactivityMultiple) * time.Second
}

type workerHandlers struct {
	pools *poolRepo
	cfg   config.API
}

// heartbeat upserts the worker as ONLINE and, as Prefect's
// record_worker_heartbeat, moves a NOT_READY pool to READY.
func (h *workerHandlers) heartbeat(w http.ResponseWriter, r *http.Request) error {
	poolName := api.PathVar(r, "work_pool_name")
	var (
		name        *string
		intervalRaw rawJSON
	)
	if err := api.DecodeParams(r, api.Params{"name": &name, "heartbeat_interval_seconds": &intervalRaw}); err != nil {
		return err
	}
	if name == nil {
		return &api.ValidationError{Errors: api.Required("name", nil)}
	}
	interval, err := laxInt(intervalRaw, "heartbeat_interval_seconds")
	if err != nil {
		return err
	}
	var before, after *WorkPool
	err = h.pools.db.Tx(r.Context(), func(ctx context.Context, tx bun.Tx) error {
		var err error
		if before, err = h.pools.poolByName(ctx, tx, poolName); err != nil {
			return err
		}
		if err := upsertWorker(ctx, tx, before, *name, interval); err != nil {
			return err
		}
		if before.Status != statusNotReady {
			return nil
		}
		now := types.Now()
		_, err = tx.NewUpdate().Model((*WorkPool)(nil)).Where("id = ?", before.ID).
			Set("status = ?", statusReady).Set("last_status_event_id = ?", newEventID()).
			Set("last_transitioned_status_at = ?", now).Set("updated = ?", now).Exec(ctx)
		if err != nil {
			return fmt.Errorf("mark work pool %q ready: %w", poolName, db.Translate(err))
		}
		after, err = h.pools.poolByName(ctx, tx, poolName)
		return err
	})
	if err != nil {
		return orPoolNotFound(err, poolName)
	}
	if after != nil {
		h.pools.events.poolStatus(r.Context(), before, after)
	}
	return api.NoContent(w)
}

// upsertWorker records a heartbeat (Prefect's worker_heartbeat).
func upsertWorker(ctx context.Context, tx bun.IDB, pool *WorkPool, name string, interval *int) error {
	now := types.Now()
	wk := &Worker{ID: newEventID(), Created: now, Updated: now, Name: name, WorkPoolID: pool.ID,
		LastHeartbeatTime: now, HeartbeatIntervalSeconds: interval, Status: workerOnline}
	q := tx.NewInsert().Model(wk).On("CONFLICT (work_pool_id, name) DO UPDATE").
		Set("last_heartbeat_time = EXCLUDED.last_heartbeat_time").Set("status = EXCLUDED.status").Set("updated = EXCLUDED.updated")
	if interval != nil {
		q = q.Set("heartbeat_interval_seconds = EXCLUDED.heartbeat_interval_seconds")
	}
	if _, err := q.Exec(ctx); err != nil {
		return fmt.Errorf("record heartbeat of worker %q: %w", name, db.Translate(err))
	}
	return nil
}

func (h *workerHandlers) filter(w http.ResponseWriter, r *http.Request) error {
	poolName := api.PathVar(r, "work_pool_name")
	var page api.Page
	f, err := decodeFilter(r, keyWorkers, &page)
	if err != nil {
		return err
	}
	limit, err := page.Resolve(h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	pool, err := h.pools.poolByName(r.Context(), h.pools.db.Read, poolName)
	if err != nil {
		return orPoolNotFound(err, poolName)
	}
	workers := []Worker{}
	q, err := h.pools.filters.Own(h.pools.db.Read.NewSelect().Model(&workers), keyWorkers, f[keyWorkers])
	if err != nil {
		return err
	}
	q = q.Where("worker.work_pool_id = ?", pool.ID)
	if err := db.Page(r.Context(), q, "workers", "worker.last_heartbeat_time DESC", limit, page.Offset); err != nil {
		return err
	}
	now := time.Now()
	for i := range workers {
		workers[i].Status = workerOffline
		if now.Sub(workers[i].LastHeartbeatTime.Time) < offlineAfter(workers[i].HeartbeatIntervalSeconds) {
			workers[i].Status = workerOnline
		}
	}
	return api.WriteJSON(w, http.StatusOK, workers)
}

func (h *workerHandlers) delete(w http.ResponseWriter, r *http.Request) error {
	poolName, name := api.PathVar(r, "work_pool_name"), api.PathVar(r, "name")
	pool, err := h.pools.poolByName(r.Context(), h.pools.db.Read, poolName)
	if err != nil {
		return orPoolNotFound(err, poolName)
	}
	res, err := h.pools.db.NewDelete().Model((*Worker)(nil)).Where("work_pool_id = ? AND name = ?", pool.ID, name).Exec(r.Context())
	if err != nil {
		return fmt.Errorf("delete worker %q: %w", name, db.Translate(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(api.NotFound("Worker not found."), err)
	}
	return api.NoContent(w)
}

// laxInt reads an optional integer as pydantic's lax mode does: 30 and 30.0
// are 30; 30.5 is refused.
func laxInt(raw rawJSON, field string) (*int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "int_parsing", Loc: []any{"body", field},
			Msg: "Input should be a valid integer", Input: decodeAny(json.RawMessage(raw))}}}
	}
	n := int(f)
	return &n, nil
}
