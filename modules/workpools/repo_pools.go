package workpools

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// slotStates are the run states that hold a pool's or queue's concurrency
// slot (Prefect's SLOT_OCCUPYING_STATES).
var slotStates = []string{"PENDING", "RUNNING"}

// poolRepo reads and writes pools for the API.
type poolRepo struct {
	*store
	filters *filter.Registry
}

func (r *poolRepo) listPools(ctx context.Context, f api.Filters, limit, offset int) ([]poolResponse, error) {
	pools := []WorkPool{}
	q, err := r.filters.Own(r.db.Read.NewSelect().Model(&pools), keyPools, f[keyPools])
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "work pools", "work_pool.name ASC", limit, offset); err != nil {
		return nil, err
	}
	return r.poolResponses(ctx, r.db.Read, pools)
}

func (r *poolRepo) countPools(ctx context.Context, f api.Filters) (int, error) {
	q, err := r.filters.Own(r.db.Read.NewSelect().Model((*WorkPool)(nil)), keyPools, f[keyPools])
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "work pools")
}

// poolResponses adds active_slots to the pools that have a limit, counted in
// one query.
func (r *poolRepo) poolResponses(ctx context.Context, idb bun.IDB, pools []WorkPool) ([]poolResponse, error) {
	var limited []uuid.UUID
	for _, p := range pools {
		if p.ConcurrencyLimit != nil {
			limited = append(limited, p.ID)
		}
	}
	slots := map[uuid.UUID]int{}
	if len(limited) > 0 {
		var rows []struct {
			PoolID uuid.UUID `bun:"pool_id,type:uuid"`
			N      int       `bun:"n"`
		}
		err := idb.NewSelect().TableExpr("flow_run AS fr").
			Join("JOIN work_queue AS wq ON wq.id = fr.work_queue_id").
			ColumnExpr("wq.work_pool_id AS pool_id, COUNT(fr.id) AS n").
			Where("wq.work_pool_id IN (?)", bun.In(limited)).Where("fr.state_type IN (?)", bun.In(slotStates)).
			GroupExpr("wq.work_pool_id").Scan(ctx, &rows)
		if err != nil {
			return nil, fmt.Errorf("count work pool slots: %w", db.Translate(err))
		}
		for _, row := range rows {
			slots[row.PoolID] = row.N
		}
	}
	out := make([]poolResponse, len(pools))
	for i := range pools {
		out[i] = pools[i].response(slots[pools[i].ID])
	}
	return out, nil
}

// queueSlots counts the slot-holding runs of queues, in one query.
func queueSlots(ctx context.Context, idb bun.IDB, queues []WorkQueue) (map[uuid.UUID]int, error) {
	var limited []uuid.UUID
	for _, q := range queues {
		if q.ConcurrencyLimit != nil {
			limited = append(limited, q.ID)
		}
	}
	slots := map[uuid.UUID]int{}
	if len(limited) == 0 {
		return slots, nil
	}
	var rows []struct {
		QueueID uuid.UUID `bun:"queue_id,type:uuid"`
		N       int       `bun:"n"`
	}
	err := idb.NewSelect().TableExpr("flow_run AS fr").ColumnExpr("fr.work_queue_id AS queue_id, COUNT(fr.id) AS n").
		Where("fr.work_queue_id IN (?)", bun.In(limited)).Where("fr.state_type IN (?)", bun.In(slotStates)).
		GroupExpr("fr.work_queue_id").Scan(ctx, &rows)
	if err != nil {
		return nil, fmt.Errorf("count work queue slots: %w", db.Translate(err))
	}
	for _, row := range rows {
		slots[row.QueueID] = row.N
	}
	return slots, nil
}

func queueResponses(ctx context.Context, idb bun.IDB, queues []WorkQueue) ([]queueResponse, error) {
	slots, err := queueSlots(ctx, idb, queues)
	if err != nil {
		return nil, err
	}
	out := make([]queueResponse, len(queues))
	for i := range queues {
		out[i] = queues[i].response(slots[queues[i].ID])
	}
	return out, nil
}

func (r *poolRepo) readPool(ctx context.Context, name string) (poolResponse, error) {
	p, err := r.poolByName(ctx, r.db.Read, name)
	if err != nil {
		return poolResponse{}, err
	}
	out, err := r.poolResponses(ctx, r.db.Read, []WorkPool{*p})
	if err != nil {
		return poolResponse{}, err
	}
	return out[0], nil
}

// createPool creates a pool and emits its created and status events.
func (r *poolRepo) createPool(ctx context.Context, spec poolSpec) (poolResponse, error) {
	var p *WorkPool
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		p, err = r.store.createPool(ctx, tx, spec)
		return err
	})
	if err != nil {
		return poolResponse{}, err
	}
	if p.Type != agentPoolType {
		after := *p
		id, at := newEventID(), types.Now()
		after.LastStatusEventID, after.LastTransitionedStatusAt = &id, &at
		r.events.poolStatus(ctx, nil, &after)
	}
	return p.response(0), nil
}

// updatePool applies a PATCH as Prefect's update_work_pool: pausing sets
// PAUSED, resuming sets READY when a worker is online and NOT_READY
// otherwise; a status change records a status event id and time.
func (r *poolRepo) updatePool(ctx context.Context, name string, u *poolUpdate) error {
	var before, after *WorkPool
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if before, err = r.poolByName(ctx, tx, name); err != nil {
			return err
		}
		status := ""
		if before.Type != agentPoolType && u.isPaused != nil {
			status = statusPaused
			if !*u.isPaused {
				if status, err = r.resumedStatus(ctx, tx, before.ID); err != nil {
					return err
				}
			}
		}
		q := tx.NewUpdate().Model((*WorkPool)(nil)).Where("id = ?", before.ID).Set("updated = ?", types.Now())
		if u.sent.has("description") {
			q.Set("description = ?", u.description)
		}
		if u.isPaused != nil {
			q.Set("is_paused = ?", *u.isPaused)
		}
		if u.baseJobTemplate != nil {
			q.Set("base_job_template = ?", string(u.baseJobTemplate))
		}
		if u.sent.has("concurrency_limit") {
			q.Set("concurrency_limit = ?", u.concurrencyLimit)
		}
		if u.storageConfiguration != nil {
			q.Set("storage_configuration = ?", *u.storageConfiguration)
		}
		if status != "" {
			q.Set("status = ?", status).Set("last_status_event_id = ?", newEventID()).Set("last_transitioned_status_at = ?", types.Now())
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("update work pool %q: %w", name, db.Translate(err))
		}
		after, err = r.poolByName(ctx, tx, name)
		return err
	})
	if err != nil {
		return err
	}
	r.events.poolUpdated(ctx, after, poolChanges(before, after))
	if before.Status != after.Status || (u.isPaused != nil && after.Type != agentPoolType) {
		r.events.poolStatus(ctx, before, after)
	}
	return nil
}

// resumedStatus is READY when the pool has an online worker, else NOT_READY.
func (r *poolRepo) resumedStatus(ctx context.Context, idb bun.IDB, poolID uuid.UUID) (string, error) {
	n, err := idb.NewSelect().Model((*Worker)(nil)).Where("work_pool_id = ? AND status = ?", poolID, workerOnline).Count(ctx)
	if err != nil {
		return "", fmt.Errorf("count online workers: %w", db.Translate(err))
	}
	if n > 0 {
		return statusReady, nil
	}
	return statusNotReady, nil
}

// poolChanges lists the user-facing fields a PATCH changed, for the
// prefect.work-pool.updated event.
func poolChanges(before, after *WorkPool) map[string]change {
	out := map[string]change{}
	if !equalPtr(before.Description, after.Description) {
		out["description"] = change{From: before.Description, To: after.Description}
	}
	if !jsonEqual(before.BaseJobTemplate, after.BaseJobTemplate) {
		out["base_job_template"] = change{From: before.BaseJobTemplate, To: after.BaseJobTemplate}
	}
	if !equalPtr(before.ConcurrencyLimit, after.ConcurrencyLimit) {
		out["concurrency_limit"] = change{From: before.ConcurrencyLimit, To: after.ConcurrencyLimit}
	}
	if !jsonEqual(before.StorageConfiguration, after.StorageConfiguration) {
		out["storage_configuration"] = change{From: before.StorageConfiguration, To: after.StorageConfiguration}
	}
	return out
}

// deletePool deletes a pool with its queues and workers (cascade) and emits
// the deleted events of its queues and of the pool.
func (r *poolRepo) deletePool(ctx context.Context, name string) error {
	var (
		pool   *WorkPool
		queues []WorkQueue
	)
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if pool, err = r.poolByName(ctx, tx, name); err != nil {
			return err
		}
		if err := r.queuesWithPool(tx).Where("work_queue.work_pool_id = ?", pool.ID).Scan(ctx, &queues); err != nil {
			return fmt.Errorf("read queues of work pool %q: %w", name, db.Translate(err))
		}
		// Queues and workers first: SQLite may run without foreign-key cascades.
		for _, m := range []any{(*Worker)(nil), (*WorkQueue)(nil)} {
			if _, err := tx.NewDelete().Model(m).Where("work_pool_id = ?", pool.ID).Exec(ctx); err != nil {
				return fmt.Errorf("delete work pool %q: %w", name, db.Translate(err))
			}
		}
		if _, err := tx.NewDelete().Model((*WorkPool)(nil)).Where("id = ?", pool.ID).Exec(ctx); err != nil {
			return fmt.Errorf("delete work pool %q: %w", name, db.Translate(err))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i := range queues {
		r.events.queueDeleted(ctx, &queues[i], pool.Type)
	}
	r.events.poolDeleted(ctx, pool)
	return nil
}
