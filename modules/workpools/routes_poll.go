package workpools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

type pollHandlers struct {
	sched *scheduler
	cfg   config.API
}

// scheduledFlowRuns serves a worker's poll, POST
// /work_pools/{name}/get_scheduled_flow_runs: the pool's (or the named
// queues') scheduled runs, then the poll is recorded on those queues.
func (h *pollHandlers) scheduledFlowRuns(w http.ResponseWriter, r *http.Request) error {
	poolName := api.PathVar(r, "name")
	var (
		queueNames    []string
		before, after *types.DateTime
		limit         *int
	)
	err := api.DecodeParams(r, api.Params{"work_queue_names": &queueNames, "scheduled_before": &before,
		"scheduled_after": &after, "limit": &limit})
	if err != nil {
		return err
	}
	n, err := api.ResolveLimit(limit, h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	ctx, store := r.Context(), h.sched.store
	var (
		pool   *WorkPool
		polled []WorkQueue
		picked []candidate
	)
	now := types.Now()
	err = store.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if pool, err = store.poolByName(ctx, tx, poolName); err != nil {
			return orPoolNotFound(err, poolName)
		}
		if polled, err = pollTargets(ctx, store, tx, pool, queueNames); err != nil {
			return err
		}
		if !pool.IsPaused {
			var active []WorkQueue
			for _, q := range polled {
				if !q.IsPaused {
					active = append(active, q)
				}
			}
			free, err := poolFreeSlots(ctx, tx, pool)
			if err != nil {
				return err
			}
			if picked, err = h.sched.scheduled(ctx, tx, active, free, window{before: before, after: after}, n); err != nil {
				return err
			}
		}
		return markPolled(ctx, tx, polled, now)
	})
	if err != nil {
		return err
	}
	h.sched.announcePoll(ctx, polled, pool.Type, now)
	out, err := h.workerRuns(r, pool.ID, picked)
	if err != nil {
		return err
	}
	return api.WriteJSON(w, http.StatusOK, out)
}

// pollTargets are the queues a poll reads: the named ones, or all the
// pool's by priority.
func pollTargets(ctx context.Context, store *store, tx bun.IDB, pool *WorkPool, names []string) ([]WorkQueue, error) {
	var polled []WorkQueue
	if len(names) == 0 {
		err := store.queuesWithPool(tx).Where("work_queue.work_pool_id = ?", pool.ID).OrderExpr("work_queue.priority ASC").Scan(ctx, &polled)
		if err != nil {
			return nil, fmt.Errorf("read queues of work pool %q: %w", pool.Name, db.Translate(err))
		}
		return polled, nil
	}
	for _, name := range names {
		q, err := store.queueByName(ctx, tx, pool.Name, name)
		if errors.Is(err, db.ErrNotFound) {
			return nil, poolQueueNotFound(pool.Name, name).Wrap(err)
		}
		if err != nil {
			return nil, err
		}
		polled = append(polled, *q)
	}
	return polled, nil
}

func (h *pollHandlers) workerRuns(r *http.Request, poolID uuid.UUID, picked []candidate) ([]workerFlowRun, error) {
	full, err := h.sched.reader.FlowRuns(r.Context(), candidateIDs(picked), false)
	if err != nil {
		return nil, err
	}
	out := make([]workerFlowRun, 0, len(full))
	for _, run := range full {
		body, err := coreFlowRun(run)
		if err != nil {
			return nil, err
		}
		out = append(out, workerFlowRun{WorkPoolID: poolID, WorkQueueID: *run.WorkQueueID, FlowRun: body})
	}
	return out, nil
}

func candidateIDs(cs []candidate) []uuid.UUID {
	ids := make([]uuid.UUID, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// legacyRuns serves POST /work_queues/{id}/get_runs: the queue's scheduled
// runs within its concurrency limit, earliest first. A poll is recorded
// unless the request comes from the UI (x-prefect-ui: true).
func (h *pollHandlers) legacyRuns(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	var (
		before *types.DateTime
		limit  *int
	)
	if err := api.DecodeParams(r, api.Params{"scheduled_before": &before, "limit": &limit}); err != nil {
		return err
	}
	n, err := api.ResolveLimit(limit, h.cfg.DefaultLimit)
	if err != nil {
		return err
	}
	ctx, store := r.Context(), h.sched.store
	record := r.Header.Get("X-Prefect-Ui") != "true"
	var (
		q        *WorkQueue
		ids      []uuid.UUID
		poolType string
	)
	now := types.Now()
	err = store.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if q, err = store.queueByID(ctx, tx, id); err != nil {
			return err
		}
		if ids, err = h.sched.queueRuns(ctx, tx, q, before, n); err != nil {
			return err
		}
		if !record {
			return nil
		}
		if err := tx.NewSelect().Model((*WorkPool)(nil)).Column("type").Where("id = ?", q.WorkPoolID).Scan(ctx, &poolType); err != nil {
			return fmt.Errorf("read pool type: %w", db.Translate(err))
		}
		return markPolled(ctx, tx, []WorkQueue{*q}, now)
	})
	if errors.Is(err, db.ErrNotFound) {
		return exceptionNotFound(w, "Work queue with id "+id.String()+" not found.")
	}
	if err != nil {
		return err
	}
	if record {
		h.sched.announcePoll(ctx, []WorkQueue{*q}, poolType, now)
	}
	full, err := h.sched.reader.FlowRuns(ctx, ids, true)
	if err != nil {
		return err
	}
	if full == nil {
		full = []runs.FlowRun{}
	}
	return api.WriteJSON(w, http.StatusOK, full)
}

// queueStatus is Prefect's WorkQueueStatusDetail with its fixed health
// policy: healthy means no Late runs and a poll within the last minute.
type queueStatus struct {
	Healthy           bool            `json:"healthy"`
	LateRunsCount     int             `json:"late_runs_count"`
	LastPolled        *types.DateTime `json:"last_polled"`
	HealthCheckPolicy healthPolicy    `json:"health_check_policy"`
}

type healthPolicy struct {
	MaximumLateRuns               int `json:"maximum_late_runs"`
	MaximumSecondsSinceLastPolled int `json:"maximum_seconds_since_last_polled"`
}

func (h *pollHandlers) status(w http.ResponseWriter, r *http.Request) error {
	id, err := api.PathUUID(r, "id", "Not Found")
	if err != nil {
		return err
	}
	ctx, store := r.Context(), h.sched.store
	q, err := store.queueByID(ctx, store.db.Read, id)
	if errors.Is(err, db.ErrNotFound) {
		return exceptionNotFound(w, "Work queue with id "+id.String()+" not found")
	}
	if err != nil {
		return err
	}
	late64, err := store.db.Read.NewSelect().TableExpr("flow_run").Where("work_queue_id = ? AND state_name = 'Late'", id).Count(ctx)
	if err != nil {
		return fmt.Errorf("count late runs: %w", db.Translate(err))
	}
	late := int(late64)
	policy := healthPolicy{MaximumLateRuns: 0, MaximumSecondsSinceLastPolled: 60}
	healthy := late <= policy.MaximumLateRuns && q.LastPolled != nil &&
		time.Since(q.LastPolled.Time) <= time.Duration(policy.MaximumSecondsSinceLastPolled)*time.Second
	return api.WriteJSON(w, http.StatusOK, queueStatus{Healthy: healthy, LateRunsCount: late, LastPolled: q.LastPolled, HealthCheckPolicy: policy})
}
