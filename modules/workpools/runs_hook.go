package workpools

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/api"
)

// runQueues is runs.WorkQueues on top of Lookup: the pool and queue of a
// flow run created with work_pool_name, and work_pool_name on flow runs.
type runQueues struct{ lookup *Lookup }

func (q *runQueues) FlowRunQueue(ctx context.Context, idb bun.IDB, poolName, queueName string) (uuid.UUID, error) {
	ref, err := q.lookup.Find(ctx, idb, poolName, queueName)
	switch {
	case errors.Is(err, ErrPoolNotFound):
		return uuid.Nil, poolNotFound(poolName).Wrap(err)
	case errors.Is(err, ErrQueueNotFound):
		return uuid.Nil, api.NotFound("Work pool queue '" + poolName + "/" + queueName + "' not found.").Wrap(err)
	case err != nil:
		return uuid.Nil, err
	}
	return ref.QueueID, nil
}

func (q *runQueues) Pools(ctx context.Context, idb bun.IDB, queueIDs []uuid.UUID) (map[uuid.UUID]runs.PoolRef, error) {
	refs, err := q.lookup.Refs(ctx, idb, queueIDs)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]runs.PoolRef, len(refs))
	for id, ref := range refs {
		out[id] = runs.PoolRef{ID: ref.PoolID, Name: ref.PoolName, QueueName: ref.QueueName}
	}
	return out, nil
}
