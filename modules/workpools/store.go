package workpools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// store holds the writes every path shares (the API, Lookup): creating pools
// with their default queue, creating queues with Prefect's priorities, and
// the legacy default-agent-pool. Each takes the caller's bun.IDB so that it
// joins the caller's transaction.
type store struct {
	db     *db.DB
	events *poolEvents
}

// queuesWithPool selects queues with their pool's name (for work_pool_name).
func (s *store) queuesWithPool(idb bun.IDB) *bun.SelectQuery {
	return idb.NewSelect().Model((*WorkQueue)(nil)).ColumnExpr("work_queue.*").
		ColumnExpr("work_pool.name AS pool_name").
		Join("JOIN work_pool AS work_pool ON work_pool.id = work_queue.work_pool_id")
}

func (s *store) poolByName(ctx context.Context, idb bun.IDB, name string) (*WorkPool, error) {
	var p WorkPool
	if err := idb.NewSelect().Model(&p).Where("work_pool.name = ?", name).Limit(1).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read work pool %q: %w", name, db.Translate(err))
	}
	return &p, nil
}

func (s *store) queueByName(ctx context.Context, idb bun.IDB, poolName, queueName string) (*WorkQueue, error) {
	var q WorkQueue
	err := s.queuesWithPool(idb).Where("work_pool.name = ? AND work_queue.name = ?", poolName, queueName).Limit(1).Scan(ctx, &q)
	if err != nil {
		return nil, fmt.Errorf("read work queue %q/%q: %w", poolName, queueName, db.Translate(err))
	}
	return &q, nil
}

func (s *store) queueByID(ctx context.Context, idb bun.IDB, id uuid.UUID) (*WorkQueue, error) {
	var q WorkQueue
	if err := s.queuesWithPool(idb).Where("work_queue.id = ?", id).Limit(1).Scan(ctx, &q); err != nil {
		return nil, fmt.Errorf("read work queue %s: %w", id, db.Translate(err))
	}
	return &q, nil
}

func (s *store) queueRefByName(ctx context.Context, idb bun.IDB, poolName, queueName string) (QueueRef, error) {
	q, err := s.queueByName(ctx, idb, poolName, queueName)
	if err != nil {
		return QueueRef{}, err
	}
	return QueueRef{QueueID: q.ID, QueueName: q.Name, PoolID: q.WorkPoolID, PoolName: q.PoolName}, nil
}

// poolSpec is what a new pool is made of (Prefect's WorkPoolCreate).
type poolSpec struct {
	Name                 string
	Description          *string
	Type                 string
	BaseJobTemplate      json.RawMessage
	IsPaused             bool
	ConcurrencyLimit     *int
	StorageConfiguration storageConfig
}

// createPool inserts a pool and its default queue, as Prefect's
// models.workers.create_work_pool: status PAUSED when created paused,
// NOT_READY otherwise.
func (s *store) createPool(ctx context.Context, idb bun.IDB, spec poolSpec) (*WorkPool, error) {
	now := types.Now()
	p := &WorkPool{ID: uuid.New(), Created: now, Updated: now, Name: spec.Name, Description: spec.Description,
		Type: spec.Type, BaseJobTemplate: spec.BaseJobTemplate, IsPaused: spec.IsPaused,
		ConcurrencyLimit: spec.ConcurrencyLimit, Status: statusNotReady, StorageConfiguration: spec.StorageConfiguration}
	if len(p.BaseJobTemplate) == 0 {
		p.BaseJobTemplate = json.RawMessage("{}")
	}
	if p.IsPaused && p.Type != agentPoolType {
		p.Status = statusPaused
	}
	if _, err := idb.NewInsert().Model(p).Exec(ctx); err != nil {
		return nil, fmt.Errorf("insert work pool %q: %w", p.Name, db.Translate(err))
	}
	desc := "The work pool's default queue."
	q, err := s.createQueue(ctx, idb, p, queueSpec{Name: "default", Description: &desc})
	if err != nil {
		return nil, err
	}
	p.DefaultQueueID = &q.ID
	if _, err := idb.NewUpdate().Model(p).Column("default_queue_id").WherePK().Exec(ctx); err != nil {
		return nil, fmt.Errorf("set default queue of work pool %q: %w", p.Name, db.Translate(err))
	}
	s.events.poolCreated(ctx, p)
	return p, nil
}

// queueSpec is what a new queue is made of (Prefect's WorkQueueCreate).
type queueSpec struct {
	Name             string
	Description      *string
	IsPaused         bool
	ConcurrencyLimit *int
	Priority         *int
	Filter           json.RawMessage
}

// createQueue inserts a queue into pool. Without a priority it takes the
// first free one (Prefect: the first gap in 1..n, else max+1); with one, the
// other queues make room as in bulk_update_work_queue_priorities.
func (s *store) createQueue(ctx context.Context, idb bun.IDB, pool *WorkPool, spec queueSpec) (*WorkQueue, error) {
	now := types.Now()
	q := &WorkQueue{ID: uuid.New(), Created: now, Updated: now, Name: spec.Name, IsPaused: spec.IsPaused,
		ConcurrencyLimit: spec.ConcurrencyLimit, Status: statusNotReady, WorkPoolID: pool.ID, Filter: spec.Filter}
	if spec.Description != nil {
		q.Description = *spec.Description
	}
	if spec.IsPaused {
		q.Status = statusPaused
	}
	if spec.Priority != nil {
		q.Priority = *spec.Priority
	} else {
		var taken []int
		if err := idb.NewSelect().Model((*WorkQueue)(nil)).Column("priority").Where("work_pool_id = ?", pool.ID).Scan(ctx, &taken); err != nil {
			return nil, fmt.Errorf("read queue priorities of pool %q: %w", pool.Name, db.Translate(err))
		}
		q.Priority = firstFreePriority(taken)
	}
	if _, err := idb.NewInsert().Model(q).Exec(ctx); err != nil {
		return nil, fmt.Errorf("insert work queue %q into pool %q: %w", q.Name, pool.Name, db.Translate(err))
	}
	if spec.Priority != nil && *spec.Priority != 0 {
		if err := s.reorderPriorities(ctx, idb, pool.ID, map[uuid.UUID]int{q.ID: *spec.Priority}); err != nil {
			return nil, err
		}
	}
	q.PoolName = pool.Name
	s.events.queueCreated(ctx, q, pool.Type)
	return q, nil
}

func firstFreePriority(taken []int) int {
	sort.Ints(taken)
	for i, p := range taken {
		if i+1 != p {
			return i + 1
		}
	}
	if len(taken) == 0 {
		return 1
	}
	return taken[len(taken)-1] + 1
}

// reorderPriorities gives the queues in want their priority and shifts the
// others as Prefect's bulk_update_work_queue_priorities does: order kept,
// priorities unique and increasing, as few changes as possible.
func (s *store) reorderPriorities(ctx context.Context, idb bun.IDB, poolID uuid.UUID, want map[uuid.UUID]int) error {
	var all []WorkQueue
	if err := idb.NewSelect().Model(&all).Column("id", "priority").Where("work_pool_id = ?", poolID).
		OrderExpr("priority ASC").Scan(ctx); err != nil {
		return fmt.Errorf("read queue priorities: %w", db.Translate(err))
	}
	before := map[uuid.UUID]int{}
	var rest, moved []WorkQueue
	for _, q := range all {
		before[q.ID] = q.Priority
		if _, ok := want[q.ID]; ok {
			moved = append(moved, q)
		} else {
			rest = append(rest, q)
		}
	}
	sort.SliceStable(moved, func(i, j int) bool { return want[moved[i].ID] < want[moved[j].ID] })
	for _, m := range moved {
		m.Priority = want[m.ID]
		for i, q := range rest {
			if q.Priority >= m.Priority {
				rest = append(rest[:i], append([]WorkQueue{m}, rest[i:]...)...)
				break
			}
		}
		// Prefect drops a queue whose new priority is above every other one
		// from the walk below; it keeps the value it was given.
	}
	last := 0
	for _, q := range rest {
		if q.Priority <= last {
			last++
			q.Priority = last
		} else {
			last = q.Priority
		}
		if want, ok := want[q.ID]; (ok && want != q.Priority) || (!ok && before[q.ID] != q.Priority) {
			if _, err := idb.NewUpdate().Model((*WorkQueue)(nil)).Set("priority = ?", q.Priority).
				Where("id = ?", q.ID).Exec(ctx); err != nil {
				return fmt.Errorf("update queue priority: %w", db.Translate(err))
			}
		}
	}
	return nil
}

// ensureLegacyQueue is Prefect's ensure_work_queue_exists: the queue of that
// name in default-agent-pool, created (with the pool) if missing.
func (s *store) ensureLegacyQueue(ctx context.Context, idb bun.IDB, name string) (*WorkQueue, error) {
	q, err := s.queueByName(ctx, idb, DefaultAgentPoolName, name)
	if err == nil || !errors.Is(err, db.ErrNotFound) {
		return q, err
	}
	pool, err := s.agentPool(ctx, idb)
	if err != nil {
		return nil, err
	}
	if name == "default" && pool.DefaultQueueID != nil {
		return s.queueByID(ctx, idb, *pool.DefaultQueueID)
	}
	one := 1
	return s.createQueue(ctx, idb, pool, queueSpec{Name: name, Priority: &one})
}

// agentPool reads default-agent-pool, creating it if missing.
func (s *store) agentPool(ctx context.Context, idb bun.IDB) (*WorkPool, error) {
	pool, err := s.poolByName(ctx, idb, DefaultAgentPoolName)
	if errors.Is(err, db.ErrNotFound) {
		return s.createPool(ctx, idb, poolSpec{Name: DefaultAgentPoolName, Type: agentPoolType})
	}
	return pool, err
}
