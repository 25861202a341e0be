package workpools

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// queueFilter is Prefect's deprecated QueueFilter of a tag-based work
// queue: it picks up runs of any queue whose tags include all of Tags, from
// deployments in DeploymentIDs (nil: any deployment).
type queueFilter struct {
	Tags          []string     `json:"tags"`
	DeploymentIDs *[]uuid.UUID `json:"deployment_ids"`
}

// parseQueueFilter reads a queue's stored filter; nil when it has none (a
// plain queue).
func parseQueueFilter(raw json.RawMessage) (*queueFilter, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var f queueFilter
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("read work queue filter: %w", err)
	}
	return &f, nil
}

// where is the flow-run condition of Prefect's _legacy_get_runs_in_work_queue:
// tags all_ (an empty list is no condition), deployment_id any_ (an empty
// list matches nothing) and never a run without a deployment.
func (f *queueFilter) where() *filter.Where {
	w := filter.And().JSONHasAll("fr.tags", f.Tags).IsNull("fr.deployment_id", false)
	if f.DeploymentIDs != nil {
		w.In("fr.deployment_id", *f.DeploymentIDs, len(*f.DeploymentIDs))
	}
	return w
}

// queueRuns is Prefect's get_runs_in_work_queue: a plain queue's scheduled
// runs are those of its name; a queue with a filter reads the matching
// runs, within its concurrency limit, earliest first.
func (s *scheduler) queueRuns(ctx context.Context, tx bun.IDB, q *WorkQueue, before *types.DateTime, limit int) ([]uuid.UUID, error) {
	if q.IsPaused {
		return nil, nil
	}
	f, err := parseQueueFilter(q.Filter)
	if err != nil {
		return nil, err
	}
	if f == nil {
		return s.namedQueueRuns(ctx, tx, q, before, limit)
	}
	match := f.where()
	if q.ConcurrencyLimit != nil {
		busy, err := match.Apply(tx.NewSelect().TableExpr("flow_run AS fr")).Where("fr.state_type IN (?)", bun.In(slotStates)).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("count work queue %s runs: %w", q.ID, db.Translate(err))
		}
		limit = min(limit, max(0, *q.ConcurrencyLimit-int(busy)))
	}
	if limit == 0 {
		return nil, nil
	}
	sel := match.Apply(tx.NewSelect().TableExpr("flow_run AS fr").Column("fr.id")).Where("fr.state_type = 'SCHEDULED'")
	if before != nil {
		sel = sel.Where("fr.next_scheduled_start_time <= ?", *before)
	}
	var ids []uuid.UUID
	if err := sel.OrderExpr("fr.next_scheduled_start_time ASC").Limit(int64(limit)).Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("read work queue %s runs: %w", q.ID, db.Translate(err))
	}
	return ids, nil
}

// namedQueueRuns is Prefect's get_scheduled_flow_runs_from_work_queues for
// one plain queue: the scheduled runs whose work_queue_name is the queue's
// name (in any pool, as Prefect matches by name), earliest first, within
// the queue's limit less the runs of that name that are PENDING, RUNNING or
// CANCELLING. On PostgreSQL they are locked FOR UPDATE SKIP LOCKED, as
// Prefect's query.
func (s *scheduler) namedQueueRuns(ctx context.Context, tx bun.IDB, q *WorkQueue, before *types.DateTime, limit int) ([]uuid.UUID, error) {
	if q.ConcurrencyLimit != nil {
		busy, err := tx.NewSelect().TableExpr("flow_run AS fr").Where("fr.work_queue_name = ?", q.Name).
			Where("fr.state_type IN (?)", bun.In([]string{"RUNNING", "PENDING", "CANCELLING"})).Count(ctx)
		if err != nil {
			return nil, fmt.Errorf("count runs of work queue %q: %w", q.Name, db.Translate(err))
		}
		limit = min(limit, max(0, *q.ConcurrencyLimit-int(busy)))
	}
	if limit == 0 {
		return nil, nil
	}
	sel := tx.NewSelect().TableExpr("flow_run AS fr").Column("fr.id").Where("fr.work_queue_name = ?", q.Name).Where("fr.state_type = 'SCHEDULED'")
	if before != nil {
		sel = sel.Where("fr.next_scheduled_start_time <= ?", *before)
	}
	sel = sel.OrderExpr("fr.next_scheduled_start_time ASC, fr.id").Limit(int64(limit))
	if s.store.db.IsPostgres() {
		sel = sel.For("UPDATE SKIP LOCKED")
	}
	var ids []uuid.UUID
	if err := sel.Scan(ctx, &ids); err != nil {
		return nil, fmt.Errorf("read runs of work queue %q: %w", q.Name, db.Translate(err))
	}
	return ids, nil
}

// picksUp tells whether the filter takes runs of this deployment (whose
// tags are the keys of tags).
func (f *queueFilter) picksUp(deploymentID uuid.UUID, tags map[string]bool) bool {
	for _, t := range f.Tags {
		if !tags[t] {
			return false
		}
	}
	if f.DeploymentIDs == nil || len(*f.DeploymentIDs) == 0 {
		return true
	}
	for _, id := range *f.DeploymentIDs {
		if id == deploymentID {
			return true
		}
	}
	return false
}
