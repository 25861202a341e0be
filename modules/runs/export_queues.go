package runs

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
)

// WorkQueues is what runs needs from the work pools module, which provides
// it when it is built: the queue a new flow run goes to, and the pool of a
// run's queue for work_pool_id / work_pool_name. Without it, no pool exists.
type WorkQueues interface {
	// FlowRunQueue resolves Prefect's flow-run create: pool and queue ->
	// that queue; pool only -> its default queue. It returns an *api.Error
	// (404) for a missing pool or queue.
	FlowRunQueue(ctx context.Context, idb bun.IDB, poolName, queueName string) (uuid.UUID, error)
	// Pools returns the pool of each known queue id, in one query.
	Pools(ctx context.Context, idb bun.IDB, queueIDs []uuid.UUID) (map[uuid.UUID]PoolRef, error)
}

// PoolRef names a queue's work pool, and the queue.
type PoolRef struct {
	ID        uuid.UUID
	Name      string
	QueueName string
}

type repoParams struct {
	fx.In
	DB       *db.DB
	Filters  *filter.Registry
	Policies *policies
	Events   *stateEvents
	Queues   WorkQueues `optional:"true"`
}

func newRepo(p repoParams) *repo {
	return &repo{db: p.DB, events: p.Events, filters: p.Filters, policies: p.Policies, queues: p.Queues}
}

// resolveWorkPool sets run's work queue from the create body's
// work_pool_name (and work_queue_name), as Prefect's create_flow_run.
func (r *repo) resolveWorkPool(ctx context.Context, run *FlowRun, poolName *string) error {
	if poolName == nil || *poolName == "" {
		return nil
	}
	if r.queues == nil {
		return api.NotFound(`Work pool "` + *poolName + `" not found.`)
	}
	queueName := ""
	if run.WorkQueueName != nil {
		queueName = *run.WorkQueueName
	}
	id, err := r.queues.FlowRunQueue(ctx, r.db.Read, *poolName, queueName)
	if err != nil {
		return err
	}
	run.WorkQueueID = &id
	return nil
}

// withPools fills work_pool_id and work_pool_name of runs that have a queue
// and, as Prefect's FlowRunResponse, shows the queue's own name as
// work_queue_name.
func (r *repo) withPools(ctx context.Context, runs []FlowRun) error {
	if r.queues == nil {
		return nil
	}
	var ids []uuid.UUID
	for _, run := range runs {
		if run.WorkQueueID != nil {
			ids = append(ids, *run.WorkQueueID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	pools, err := r.queues.Pools(ctx, r.db.Read, ids)
	if err != nil {
		return fmt.Errorf("read work pools of flow runs: %w", err)
	}
	for i := range runs {
		if runs[i].WorkQueueID == nil {
			continue
		}
		if p, ok := pools[*runs[i].WorkQueueID]; ok {
			id, name, queue := p.ID, p.Name, p.QueueName
			runs[i].WorkPoolID, runs[i].WorkPoolName, runs[i].WorkQueueName = &id, &name, &queue
		}
	}
	return nil
}

// FlowRunReader reads flow runs as this module returns them, for modules
// that answer with flow runs (a worker's scheduled runs).
type FlowRunReader struct{ repo *repo }

// FlowRuns reads the runs with these ids, with state, in the order of ids;
// ids with no run are skipped. asResponse reads them as Prefect's
// FlowRunResponse (work pool fields filled, the queue's name shown); without
// it they are as stored (Prefect's core.FlowRun).
func (f *FlowRunReader) FlowRuns(ctx context.Context, ids []uuid.UUID, asResponse bool) ([]FlowRun, error) {
	if len(ids) == 0 {
		return []FlowRun{}, nil
	}
	var found []FlowRun
	err := f.repo.db.Read.NewSelect().Model(&found).Relation("StateRow").Where("flow_run.id IN (?)", bun.In(ids)).Scan(ctx)
	if err != nil && !errors.Is(db.Translate(err), db.ErrNotFound) {
		return nil, fmt.Errorf("read flow runs: %w", db.Translate(err))
	}
	readyFlowRuns(found, clock())
	if asResponse {
		if err := f.repo.withPools(ctx, found); err != nil {
			return nil, err
		}
	}
	byID := make(map[uuid.UUID]FlowRun, len(found))
	for _, run := range found {
		byID[run.ID] = run
	}
	out := make([]FlowRun, 0, len(ids))
	for _, id := range ids {
		if run, ok := byID[id]; ok {
			out = append(out, run)
		}
	}
	return out, nil
}
