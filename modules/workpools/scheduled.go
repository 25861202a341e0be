package workpools

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

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
// queues are the pool's unpaused queues to read from; poolFree is nil when
// the pool has no free-slot cap. Call it inside the poll's write
// transaction: on PostgreSQL the runs read are locked (FOR UPDATE SKIP
// LOCKED, as Prefect's query) until it ends, so a poll at the same instant
// skips them; on SQLite the transaction holds the one writer.
func (s *scheduler) scheduled(ctx context.Context, tx bun.IDB, queues []WorkQueue, poolFree *int, w window, limit int) ([]candidate, error) {
	if len(queues) == 0 || limit == 0 {
		return nil, nil
	}
	free, err := queueSlots(ctx, tx, queues)
	if err != nil {
		return nil, err
	}
	caps := make([]queueCap, len(queues))
	priority := map[uuid.UUID]int{}
	for i, q := range queues {
		caps[i], priority[q.ID] = queueCap{id: q.ID, n: limit}, q.Priority
		if q.ConcurrencyLimit != nil {
			caps[i].n = min(limit, max(0, *q.ConcurrencyLimit-free[q.ID]))
		}
	}
	found, err := s.selectScheduled(ctx, tx, caps, w)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(found, func(i, j int) bool {
		pi, pj := priority[found[i].QueueID], priority[found[j].QueueID]
		if pi != pj {
			return pi < pj
		}
		return found[i].Next.Before(found[j].Next.Time)
	})
	n := limit
	if poolFree != nil {
		n = min(n, *poolFree)
	}
	if len(found) > n {
		found = found[:n]
	}
	return found, nil
}

// queueCap is how many runs a poll may take from one queue.
type queueCap struct {
	id uuid.UUID
	n  int
}

// selectScheduled reads each queue's first cap scheduled runs (earliest
// first). PostgreSQL takes them in a lateral join per queue with FOR UPDATE
// SKIP LOCKED, as Prefect's query; SQLite, which has no row locks, numbers
// them per queue.
func (s *scheduler) selectScheduled(ctx context.Context, tx bun.IDB, caps []queueCap, w window) ([]candidate, error) {
	conds := "fr.state_type = 'SCHEDULED' AND (" + retryTypeSQL(s.store.db) + " IS NULL OR " + retryTypeSQL(s.store.db) + " != 'in_process')"
	var windowArgs []any
	if w.after != nil {
		conds += " AND fr.next_scheduled_start_time >= ?"
		windowArgs = append(windowArgs, *w.after)
	}
	if w.before != nil {
		conds += " AND fr.next_scheduled_start_time <= ?"
		windowArgs = append(windowArgs, *w.before)
	}
	var found []candidate
	if s.store.db.IsPostgres() {
		values := make([]string, len(caps))
		var args []any
		for i, c := range caps {
			values[i] = "(CAST(? AS uuid), CAST(? AS integer))"
			args = append(args, c.id, c.n)
		}
		query := "SELECT l.id, l.work_queue_id, l.next_scheduled_start_time FROM (VALUES " + strings.Join(values, ", ") +
			") AS q(id, cap) CROSS JOIN LATERAL (SELECT fr.id, fr.work_queue_id, fr.next_scheduled_start_time FROM flow_run AS fr" +
			" WHERE fr.work_queue_id = q.id AND " + conds +
			" ORDER BY fr.next_scheduled_start_time ASC, fr.id LIMIT q.cap FOR UPDATE OF fr SKIP LOCKED) AS l"
		if err := tx.NewRaw(query, append(args, windowArgs...)...).Scan(ctx, &found); err != nil {
			return nil, fmt.Errorf("lock scheduled flow runs: %w", db.Translate(err))
		}
		return found, nil
	}
	capOf := make(map[uuid.UUID]int, len(caps))
	ids := make([]uuid.UUID, len(caps))
	most := 0
	for i, c := range caps {
		ids[i], capOf[c.id], most = c.id, c.n, max(most, c.n)
	}
	inner := tx.NewSelect().TableExpr("flow_run AS fr").
		ColumnExpr("fr.id, fr.work_queue_id, fr.next_scheduled_start_time").
		ColumnExpr("ROW_NUMBER() OVER (PARTITION BY fr.work_queue_id ORDER BY fr.next_scheduled_start_time ASC, fr.id) AS rn").
		Where("fr.work_queue_id IN (?)", bun.In(ids)).Where(conds, windowArgs...)
	if err := tx.NewSelect().TableExpr("(?) AS sub", inner).ColumnExpr("sub.*").Where("sub.rn <= ?", most).Scan(ctx, &found); err != nil {
		return nil, fmt.Errorf("select scheduled flow runs: %w", db.Translate(err))
	}
	kept := found[:0]
	for _, c := range found {
		if c.Rank <= capOf[c.QueueID] {
			kept = append(kept, c)
		}
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

// markPolled is Prefect's mark_work_queues_ready, in the poll's
// transaction: every polled queue gets last_polled now, and those NOT_READY
// become READY. announcePoll then tells the world.
func markPolled(ctx context.Context, tx bun.IDB, queues []WorkQueue, now types.DateTime) error {
	if len(queues) == 0 {
		return nil
	}
	var polled, ready []uuid.UUID
	for _, q := range queues {
		polled = append(polled, q.ID)
		if q.Status == statusNotReady {
			ready = append(ready, q.ID)
		}
	}
	if _, err := tx.NewUpdate().Model((*WorkQueue)(nil)).Set("last_polled = ?", now).Where("id IN (?)", bun.In(polled)).Exec(ctx); err != nil {
		return fmt.Errorf("record queue poll: %w", db.Translate(err))
	}
	if len(ready) > 0 {
		if _, err := tx.NewUpdate().Model((*WorkQueue)(nil)).Set("status = ?", statusReady).Where("id IN (?)", bun.In(ready)).Exec(ctx); err != nil {
			return fmt.Errorf("mark queues ready: %w", db.Translate(err))
		}
	}
	return nil
}

// announcePoll runs after a committed markPolled: a status event for each
// queue that became READY, then the polled hooks.
func (s *scheduler) announcePoll(ctx context.Context, queues []WorkQueue, poolType string, now types.DateTime) {
	if len(queues) == 0 {
		return
	}
	polled := make([]uuid.UUID, len(queues))
	for i := range queues {
		polled[i] = queues[i].ID
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
