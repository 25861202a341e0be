package workpools

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// PolledHook is told which queues a worker just polled, after the poll is
// recorded (the deployments module marks their deployments READY, as
// Prefect's mark_deployments_ready). An error is logged, never answered.
type PolledHook func(ctx context.Context, queueIDs []uuid.UUID) error

// AsPolledHook annotates a constructor returning a PolledHook into the
// group the poll handlers call.
func AsPolledHook(f any) any { return fx.Annotate(f, fx.ResultTags(`group:"workpools_polled"`)) }

type schedulerParams struct {
	fx.In
	Store  *store
	Reader *runs.FlowRunReader
	Hooks  []PolledHook `group:"workpools_polled"`
	Log    *zap.Logger
}

// scheduler answers a worker's poll: the scheduled runs of a pool's queues
// within the pool's and queues' concurrency limits, in queue priority order.
type scheduler struct {
	store  *store
	reader *runs.FlowRunReader
	hooks  []PolledHook
	log    *zap.Logger
}

func newScheduler(p schedulerParams) *scheduler {
	return &scheduler{store: p.Store, reader: p.Reader, hooks: p.Hooks, log: p.Log.Named("workpools")}
}

// window bounds the runs' next_scheduled_start_time (inclusive).
type window struct {
	before, after *types.DateTime
}

// candidate is a scheduled run as the selection sees it.
type candidate struct {
	ID      uuid.UUID      `bun:"id,type:uuid"`
	QueueID uuid.UUID      `bun:"work_queue_id,type:uuid"`
	Next    types.DateTime `bun:"next_scheduled_start_time"`
	Rank    int            `bun:"rn"`
}

// scheduled selects runs as Prefect's get-runs-from-worker-queues query: per
// queue at most min(limit, free queue slots) runs, earliest first; then per
// pool at most min(limit, free pool slots), by queue priority and time.
// queues are the pool's unpaused queues to read from; poolLimit is nil when
// the pool has no free-slot cap.
func (s *scheduler) scheduled(ctx context.Context, idb bun.IDB, queues []WorkQueue, poolFree *int, w window, limit int) ([]candidate, error) {
	if len(queues) == 0 || limit == 0 {
		return nil, nil
	}
	free, err := queueSlots(ctx, idb, queues)
	if err != nil {
		return nil, err
	}
	capOf := map[uuid.UUID]int{}
	priority := map[uuid.UUID]int{}
	ids := make([]uuid.UUID, len(queues))
	for i, q := range queues {
		ids[i], priority[q.ID], capOf[q.ID] = q.ID, q.Priority, limit
		if q.ConcurrencyLimit != nil {
			capOf[q.ID] = min(limit, max(0, *q.ConcurrencyLimit-free[q.ID]))
		}
	}
	inner := idb.NewSelect().TableExpr("flow_run AS fr").
		ColumnExpr("fr.id, fr.work_queue_id, fr.next_scheduled_start_time").
		ColumnExpr("ROW_NUMBER() OVER (PARTITION BY fr.work_queue_id ORDER BY fr.next_scheduled_start_time ASC, fr.id) AS rn").
		Where("fr.work_queue_id IN (?)", bun.In(ids)).Where("fr.state_type = 'SCHEDULED'").
		Where("(" + retryTypeSQL(s.store.db) + " IS NULL OR " + retryTypeSQL(s.store.db) + " != 'in_process')")
	if w.after != nil {
		inner = inner.Where("fr.next_scheduled_start_time >= ?", *w.after)
	}
	if w.before != nil {
		inner = inner.Where("fr.next_scheduled_start_time <= ?", *w.before)
	}
	var found []candidate
	if err := idb.NewSelect().TableExpr("(?) AS sub", inner).ColumnExpr("sub.*").Where("sub.rn <= ?", limit).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("select scheduled flow runs: %w", db.Translate(err))
	}
	kept := found[:0]
	for _, c := range found {
		if c.Rank <= capOf[c.QueueID] {
			kept = append(kept, c)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		pi, pj := priority[kept[i].QueueID], priority[kept[j].QueueID]
		if pi != pj {
			return pi < pj
		}
		return kept[i].Next.Before(kept[j].Next.Time)
	})
	n := limit
	if poolFree != nil {
		n = min(n, *poolFree)
	}
	if len(kept) > n {
		kept = kept[:n]
	}
	return kept, nil
}

// retryTypeSQL reads empirical_policy.retry_type of flow run "fr".
func retryTypeSQL(d *db.DB) string {
	if d.IsPostgres() {
		return "(fr.empirical_policy ->> 'retry_type')"
	}
	return "json_extract(fr.empirical_policy, '$.retry_type')"
}

// poolFreeSlots is the pool's limit less its slot-holding runs in unpaused
// queues; nil when the pool has no limit.
func poolFreeSlots(ctx context.Context, idb bun.IDB, pool *WorkPool) (*int, error) {
	if pool.ConcurrencyLimit == nil {
		return nil, nil
	}
	n, err := idb.NewSelect().TableExpr("flow_run AS fr").Join("JOIN work_queue AS wq ON wq.id = fr.work_queue_id").
		Where("wq.work_pool_id = ? AND wq.is_paused = ?", pool.ID, false).Where("fr.state_type IN (?)", bun.In(slotStates)).Count(ctx)
	if err != nil {
		return nil, fmt.Errorf("count work pool slots: %w", db.Translate(err))
	}
	free := max(0, *pool.ConcurrencyLimit-int(n))
	return &free, nil
}

// workerFlowRun is Prefect's WorkerFlowRunResponse.
type workerFlowRun struct {
	WorkPoolID  uuid.UUID       `json:"work_pool_id"`
	WorkQueueID uuid.UUID       `json:"work_queue_id"`
	FlowRun     json.RawMessage `json:"flow_run"`
}

// coreFlowRun is a flow run as Prefect's core.FlowRun: the response shape
// without work_pool_id and work_pool_name.
func coreFlowRun(run runs.FlowRun) (json.RawMessage, error) {
	b, err := json.Marshal(run)
	if err != nil {
		return nil, fmt.Errorf("encode flow run %s: %w", run.ID, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("encode flow run %s: %w", run.ID, err)
	}
	delete(m, "work_pool_id")
	delete(m, "work_pool_name")
	return json.Marshal(m)
}

// recordPoll is Prefect's mark_work_queues_ready: every polled queue gets
// last_polled now, and those NOT_READY become READY (with an event); then
// the polled hooks run.
func (s *scheduler) recordPoll(ctx context.Context, queues []WorkQueue, poolType string) {
	if len(queues) == 0 {
		return
	}
	now := types.Now()
	var polled, ready []uuid.UUID
	for _, q := range queues {
		polled = append(polled, q.ID)
		if q.Status == statusNotReady {
			ready = append(ready, q.ID)
		}
	}
	err := s.store.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := tx.NewUpdate().Model((*WorkQueue)(nil)).Set("last_polled = ?", now).Where("id IN (?)", bun.In(polled)).Exec(ctx); err != nil {
			return fmt.Errorf("record queue poll: %w", db.Translate(err))
		}
		if len(ready) > 0 {
			if _, err := tx.NewUpdate().Model((*WorkQueue)(nil)).Set("status = ?", statusReady).Where("id IN (?)", bun.In(ready)).Exec(ctx); err != nil {
				return fmt.Errorf("mark queues ready: %w", db.Translate(err))
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("record work queue poll", zap.Error(err))
		return
	}
	for i := range queues {
		if queues[i].Status == statusNotReady {
			q := queues[i]
			q.Status, q.LastPolled = statusReady, &now
			s.store.events.queueStatus(ctx, &q, poolType)
		}
	}
	for _, hook := range s.hooks {
		if err := hook(ctx, polled); err != nil {
			s.log.Warn("work queue poll hook", zap.Error(err))
		}
	}
}
