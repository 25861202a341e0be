package workpools

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// lastPolledTimeout is Prefect's WORK_QUEUE_LAST_POLLED_TIMEOUT: a queue
// polled this recently is READY when it is resumed.
const lastPolledTimeout = 60 * time.Second

// errDefaultQueue: the pool's default queue cannot be deleted.
var errDefaultQueue = errors.New("can't delete a pool's default queue")

// queueRepo reads and writes queues for the API.
type queueRepo struct{ *poolRepo }

// listQueues lists queues matching the work_queues filter: those of one
// pool by priority, or (poolID nil, the legacy route) all by name.
func (r *queueRepo) listQueues(ctx context.Context, poolID *uuid.UUID, f api.Filters, limit, offset int) ([]queueResponse, error) {
	queues := []WorkQueue{}
	q, err := r.filters.Own(r.queuesWithPool(r.db.Read), keyQueues, f[keyQueues])
	if err != nil {
		return nil, err
	}
	order := "work_queue.name ASC"
	if poolID != nil {
		q = q.Where("work_queue.work_pool_id = ?", *poolID)
		order = "work_queue.priority ASC"
	}
	if limit == 0 {
		return []queueResponse{}, nil
	}
	if err := q.OrderExpr(order).Limit(int64(limit)).Offset(int64(offset)).Scan(ctx, &queues); err != nil {
		return nil, fmt.Errorf("list work queues: %w", db.Translate(err))
	}
	return queueResponses(ctx, r.db.Read, queues)
}

func (r *queueRepo) queueResponse(ctx context.Context, q *WorkQueue) (queueResponse, error) {
	out, err := queueResponses(ctx, r.db.Read, []WorkQueue{*q})
	if err != nil {
		return queueResponse{}, err
	}
	return out[0], nil
}

// createQueue creates a queue in the named pool, or (poolName "", the legacy
// route) in default-agent-pool, created if missing.
func (r *queueRepo) createQueue(ctx context.Context, poolName string, spec queueSpec) (*WorkQueue, error) {
	var q *WorkQueue
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var (
			pool *WorkPool
			err  error
		)
		if poolName == "" {
			pool, err = r.agentPool(ctx, tx)
			if err == nil && spec.Name == "default" && pool.DefaultQueueID != nil {
				// Prefect returns the pool's default queue rather than a conflict.
				q, err = r.queueByID(ctx, tx, *pool.DefaultQueueID)
				return err
			}
		} else {
			pool, err = r.poolByName(ctx, tx, poolName)
			if errors.Is(err, db.ErrNotFound) {
				err = fmt.Errorf("%w: %w", ErrPoolNotFound, err)
			}
		}
		if err != nil {
			return err
		}
		q, err = r.store.createQueue(ctx, tx, pool, spec)
		return err
	})
	return q, err
}

// updateQueue applies a PATCH as Prefect's update_work_queue. reorder is
// the pool-scoped route's priority reordering (the legacy route stores the
// priority as sent).
func (r *queueRepo) updateQueue(ctx context.Context, id uuid.UUID, u *queueUpdate, reorder bool) error {
	var before, after *WorkQueue
	var poolType string
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if before, err = r.queueByID(ctx, tx, id); err != nil {
			return err
		}
		q := tx.NewUpdate().Model((*WorkQueue)(nil)).Where("id = ?", id).Set("updated = ?", types.Now())
		for col, v := range map[string]any{"name": u.name, "description": u.description, "concurrency_limit": u.concurrencyLimit,
			"priority": u.priority, "last_polled": u.lastPolled, "filter": u.filter} {
			if u.sent.has(col) {
				q.Set("? = ?", bun.Ident(col), v)
			}
		}
		if u.isPaused != nil {
			q.Set("is_paused = ?", *u.isPaused)
		}
		if status := pausedStatus(before, u); status != "" {
			q.Set("status = ?", status)
		}
		if _, err := q.Exec(ctx); err != nil {
			return fmt.Errorf("update work queue %s: %w", id, db.Translate(err))
		}
		if reorder && u.priority != nil {
			if err := r.reorderPriorities(ctx, tx, before.WorkPoolID, map[uuid.UUID]int{id: *u.priority}); err != nil {
				return err
			}
		}
		if after, err = r.queueByID(ctx, tx, id); err != nil {
			return err
		}
		return tx.NewSelect().Model((*WorkPool)(nil)).Column("type").Where("id = ?", after.WorkPoolID).Scan(ctx, &poolType)
	})
	if err != nil {
		return err
	}
	r.events.queueUpdated(ctx, after, poolType, queueChanges(before, after, u))
	if before.Status != after.Status {
		r.events.queueStatus(ctx, after, poolType)
	}
	return nil
}

// pausedStatus is the status a PATCH of is_paused moves a queue to, or "":
// PAUSED when pausing a queue not paused; when resuming a paused one, READY
// if it was polled within the last minute, else NOT_READY.
func pausedStatus(q *WorkQueue, u *queueUpdate) string {
	if u.isPaused == nil {
		return ""
	}
	if *u.isPaused {
		if q.Status != statusPaused {
			return statusPaused
		}
		return ""
	}
	if q.Status != statusPaused {
		return ""
	}
	polled := q.LastPolled
	if u.sent.has("last_polled") {
		polled = u.lastPolled
	}
	if polled != nil && time.Since(polled.Time) <= lastPolledTimeout {
		return statusReady
	}
	return statusNotReady
}

func queueChanges(before, after *WorkQueue, u *queueUpdate) map[string]change {
	out := map[string]change{}
	if u.sent.has("name") && before.Name != after.Name {
		out["name"] = change{From: before.Name, To: after.Name}
	}
	if u.sent.has("description") && before.Description != after.Description {
		out["description"] = change{From: before.Description, To: after.Description}
	}
	if u.sent.has("concurrency_limit") && !equalPtr(before.ConcurrencyLimit, after.ConcurrencyLimit) {
		out["concurrency_limit"] = change{From: before.ConcurrencyLimit, To: after.ConcurrencyLimit}
	}
	if u.sent.has("priority") && before.Priority != after.Priority {
		out["priority"] = change{From: before.Priority, To: after.Priority}
	}
	return out
}

// deleteQueue deletes a queue (not its pool's default queue); repack is the
// pool-scoped route's renumbering of the remaining priorities.
func (r *queueRepo) deleteQueue(ctx context.Context, id uuid.UUID, repack bool) error {
	var (
		q        *WorkQueue
		poolType string
	)
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if q, err = r.queueByID(ctx, tx, id); err != nil {
			return err
		}
		var pool WorkPool
		if err := tx.NewSelect().Model(&pool).Where("id = ?", q.WorkPoolID).Scan(ctx); err != nil {
			return fmt.Errorf("read pool of work queue %s: %w", id, db.Translate(err))
		}
		poolType = pool.Type
		if pool.DefaultQueueID != nil && *pool.DefaultQueueID == id {
			return errDefaultQueue
		}
		if _, err := tx.NewDelete().Model((*WorkQueue)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("delete work queue %s: %w", id, db.Translate(err))
		}
		if repack {
			return r.reorderPriorities(ctx, tx, q.WorkPoolID, nil)
		}
		return nil
	})
	if err != nil {
		return err
	}
	r.events.queueDeleted(ctx, q, poolType)
	return nil
}
