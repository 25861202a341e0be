package workpools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
)

// QueueRef names a work queue and its pool.
type QueueRef struct {
	QueueID   uuid.UUID
	QueueName string
	PoolID    uuid.UUID
	PoolName  string
}

// ErrPoolNotFound: Resolve named a pool that does not exist (callers answer
// 404 as Prefect does: `Work pool "<name>" not found.`).
var ErrPoolNotFound = errors.New("work pool not found")

// ErrQueueNotFound: Find named a queue that its pool does not have (Prefect
// answers 404 "Work pool queue '<pool>/<queue>' not found.").
var ErrQueueNotFound = errors.New("work queue not found")

// Lookup translates the pool and queue names of other modules' requests
// (deployments, flow runs) to queue ids and back. It is provided to the whole
// app, so that those modules need no route into this one.
type Lookup struct {
	store *store
}

// Resolve, in the caller's transaction, follows Prefect's deployment create:
// pool+queue -> that queue of the pool (created if missing); pool only -> the
// pool's default queue; queue only -> that queue in "default-agent-pool"
// (pool and queue created if missing, as Prefect's legacy
// ensure_work_queue_exists); neither -> QueueRef{}, nil. A named pool that
// does not exist is ErrPoolNotFound.
func (l *Lookup) Resolve(ctx context.Context, tx bun.IDB, poolName, queueName string) (QueueRef, error) {
	switch {
	case poolName != "" && queueName != "":
		ref, err := l.store.queueRefByName(ctx, tx, poolName, queueName)
		if !errors.Is(err, db.ErrNotFound) {
			return ref, err
		}
		pool, err := l.store.poolByName(ctx, tx, poolName)
		if errors.Is(err, db.ErrNotFound) {
			return QueueRef{}, fmt.Errorf("resolve %q/%q: %w", poolName, queueName, ErrPoolNotFound)
		}
		if err != nil {
			return QueueRef{}, err
		}
		q, err := l.store.createQueue(ctx, tx, pool, queueSpec{Name: queueName})
		if err != nil {
			return QueueRef{}, err
		}
		return QueueRef{QueueID: q.ID, QueueName: q.Name, PoolID: pool.ID, PoolName: pool.Name}, nil
	case poolName != "":
		return l.defaultQueue(ctx, tx, poolName)
	case queueName != "":
		q, err := l.store.ensureLegacyQueue(ctx, tx, queueName)
		if err != nil {
			return QueueRef{}, err
		}
		return QueueRef{QueueID: q.ID, QueueName: q.Name, PoolID: q.WorkPoolID, PoolName: q.PoolName}, nil
	}
	return QueueRef{}, nil
}

// Find is Resolve without creating anything, as Prefect's flow-run create
// reads pool and queue: pool+queue -> that queue (ErrQueueNotFound or
// ErrPoolNotFound if missing); pool only -> its default queue; no pool ->
// QueueRef{}, nil (a queue name alone is only recorded on the run).
func (l *Lookup) Find(ctx context.Context, tx bun.IDB, poolName, queueName string) (QueueRef, error) {
	switch {
	case poolName != "" && queueName != "":
		ref, err := l.store.queueRefByName(ctx, tx, poolName, queueName)
		if errors.Is(err, db.ErrNotFound) {
			return QueueRef{}, fmt.Errorf("find %q/%q: %w", poolName, queueName, ErrQueueNotFound)
		}
		return ref, err
	case poolName != "":
		return l.defaultQueue(ctx, tx, poolName)
	}
	return QueueRef{}, nil
}

func (l *Lookup) defaultQueue(ctx context.Context, tx bun.IDB, poolName string) (QueueRef, error) {
	pool, err := l.store.poolByName(ctx, tx, poolName)
	if errors.Is(err, db.ErrNotFound) {
		return QueueRef{}, fmt.Errorf("resolve %q: %w", poolName, ErrPoolNotFound)
	}
	if err != nil {
		return QueueRef{}, err
	}
	if pool.DefaultQueueID == nil {
		return QueueRef{}, fmt.Errorf("work pool %q has no default queue", poolName)
	}
	refs, err := l.Refs(ctx, tx, []uuid.UUID{*pool.DefaultQueueID})
	if err != nil {
		return QueueRef{}, err
	}
	return refs[*pool.DefaultQueueID], nil
}

// Refs returns pool/queue names for these queue ids in one query (for
// response fields like work_pool_name). Unknown ids are left out.
func (l *Lookup) Refs(ctx context.Context, tx bun.IDB, queueIDs []uuid.UUID) (map[uuid.UUID]QueueRef, error) {
	out := make(map[uuid.UUID]QueueRef, len(queueIDs))
	if len(queueIDs) == 0 {
		return out, nil
	}
	// A page of runs names the same few queues again and again.
	ids := slices.Clone(queueIDs)
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	var rows []WorkQueue
	if err := l.store.queuesWithPool(tx).Where("work_queue.id IN (?)", bun.In(ids)).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read work queue refs: %w", db.Translate(err))
	}
	for _, q := range rows {
		out[q.ID] = QueueRef{QueueID: q.ID, QueueName: q.Name, PoolID: q.WorkPoolID, PoolName: q.PoolName}
	}
	return out, nil
}
