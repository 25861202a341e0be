package deployments

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/api"
)

// queueTarget is the work pool and queue a deployment body names.
type queueTarget struct {
	pool, queue string
}

func newQueueTarget(pool, queue *string) *queueTarget {
	if pool == nil && queue == nil {
		return nil
	}
	t := &queueTarget{}
	if pool != nil {
		t.pool = *pool
	}
	if queue != nil {
		t.queue = *queue
	}
	return t
}

// resolve sets the deployment's work queue from the names, in tx, as
// Prefect's create_deployment does (a missing queue of an existing pool is
// created; a missing pool is a 404).
func (t *queueTarget) resolve(ctx context.Context, tx bun.IDB, pools *workpools.Lookup, d *Deployment, set *columns) error {
	if t == nil {
		return nil
	}
	ref, err := pools.Resolve(ctx, tx, t.pool, t.queue)
	if errors.Is(err, workpools.ErrPoolNotFound) {
		return api.NotFound(fmt.Sprintf("Work pool %q not found.", t.pool)).Wrap(err)
	}
	if err != nil {
		return fmt.Errorf("resolve work queue: %w", err)
	}
	if ref.QueueID == uuid.Nil {
		return nil
	}
	id, name := ref.QueueID, ref.QueueName
	d.WorkQueueID, d.WorkQueueName = &id, &name
	set.add(true, "work_queue_id")
	set.add(true, "work_queue_name")
	return nil
}

// fillPools sets work_pool_name and work_queue_name on deployments from
// their queues, in one query (Prefect's response shows the queue's name
// over the stored one).
func (r *repo) fillPools(ctx context.Context, ds []*Deployment) error {
	var ids []uuid.UUID
	for _, d := range ds {
		if d.WorkQueueID != nil {
			ids = append(ids, *d.WorkQueueID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	refs, err := r.pools.Refs(ctx, r.db.Read, ids)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if d.WorkQueueID == nil {
			continue
		}
		if ref, ok := refs[*d.WorkQueueID]; ok {
			pool, queue := ref.PoolName, ref.QueueName
			d.WorkPoolName, d.WorkQueueName = &pool, &queue
		}
	}
	return nil
}

// resolveQueue is the queue of pool named by a run request, created if
// missing.
func (h *handlers) resolveQueue(ctx context.Context, pool, queue string) (*string, *uuid.UUID, error) {
	ref, err := h.repo.pools.Resolve(ctx, h.repo.db.DB, pool, queue)
	if errors.Is(err, workpools.ErrPoolNotFound) {
		return nil, nil, api.NotFound(fmt.Sprintf("Work pool %q not found.", pool)).Wrap(err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("resolve work queue: %w", err)
	}
	return &ref.QueueName, &ref.QueueID, nil
}
