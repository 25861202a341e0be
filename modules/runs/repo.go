package runs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes flow runs, task runs and their states.
type repo struct {
	db       *db.DB
	events   *stateEvents
	filters  *filter.Registry
	policies *policies
	queues   WorkQueues // nil unless the workpools module is built
}

func isNotFound(err error) bool { return errors.Is(err, db.ErrNotFound) }

// createFlowRun inserts the run unless one with its flow and idempotency
// key exists, then sets its first state (forced, as Prefect does). It
// returns the stored run and whether it was inserted.
func (r *repo) createFlowRun(ctx context.Context, run *FlowRun, state *o.State, params map[string]any) (*FlowRun, bool, error) {
	var id uuid.UUID
	inserted := false
	err := r.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		id, inserted, err = r.createFlowRunIn(ctx, tx, run, state, params)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	out, err := r.flowRun(ctx, id)
	return out, inserted, err
}

func (r *repo) flowRun(ctx context.Context, id uuid.UUID) (*FlowRun, error) {
	var run FlowRun
	if err := r.db.Read.NewSelect().Model(&run).Relation("StateRow").Where("flow_run.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read flow run %s: %w", id, db.Translate(err))
	}
	runs := []FlowRun{run}
	readyFlowRuns(runs, clock())
	if err := r.withPools(ctx, runs); err != nil {
		return nil, err
	}
	return &runs[0], nil
}

// setState orchestrates a state for a flow or task run in its own transaction.
func (r *repo) setState(ctx context.Context, kind o.Kind, id uuid.UUID, s *o.State, force bool, params map[string]any) (*o.Result, error) {
	var res *o.Result
	err := r.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		if kind == o.FlowRun {
			res, err = r.setFlowRunState(ctx, tx, id, s, force, params)
		} else {
			res, err = r.setTaskRunState(ctx, tx, id, s, force, params)
		}
		return err
	})
	return res, err
}

// createTaskRun inserts the run unless one with its (flow_run_id,
// task_key, dynamic_key) exists, then sets its first state.
func (r *repo) createTaskRun(ctx context.Context, run *TaskRun, state *o.State, params map[string]any) (*TaskRun, bool, error) {
	inserted := false
	id := run.ID
	err := r.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(run).On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("insert task run: %w", db.Translate(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if inserted = n == 1; !inserted {
			var existing TaskRun
			q := tx.NewSelect().Model(&existing).Column("id").Where("task_key = ? AND dynamic_key = ?", run.TaskKey, run.DynamicKey)
			if run.FlowRunID == nil {
				q = q.Where("flow_run_id IS NULL")
			} else {
				q = q.Where("flow_run_id = ?", *run.FlowRunID)
			}
			if err := q.Limit(1).Scan(ctx); err != nil {
				return fmt.Errorf("read existing task run: %w", db.Translate(err))
			}
			id = existing.ID
			return nil
		}
		_, err = r.setTaskRunState(ctx, tx, run.ID, state, true, params)
		return err
	})
	if err != nil {
		return nil, false, err
	}
	out, err := r.taskRun(ctx, id)
	return out, inserted, err
}

func (r *repo) taskRun(ctx context.Context, id uuid.UUID) (*TaskRun, error) {
	var run TaskRun
	if err := r.db.Read.NewSelect().Model(&run).Relation("StateRow").Where("task_run.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read task run %s: %w", id, db.Translate(err))
	}
	runs := []TaskRun{run}
	readyTaskRuns(runs, clock())
	return &runs[0], nil
}

var (
	flowRunRelated = []string{"flows", "task_runs", "deployments", "work_pools", "work_pool_queues"}
	taskRunRelated = []string{"flows", "flow_runs", "deployments"}
)

func (r *repo) listFlowRuns(ctx context.Context, fq api.Filters, sort string, limit, offset int) ([]FlowRun, error) {
	runs := []FlowRun{}
	q, err := r.filters.Apply(r.db.Read.NewSelect().Model(&runs).Relation("StateRow"), "flow_run", "flow_runs", flowRunRelated, fq)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "flow runs", flowRunSorts[sort], limit, offset); err != nil {
		return nil, err
	}
	readyFlowRuns(runs, clock())
	if err := r.withPools(ctx, runs); err != nil {
		return nil, err
	}
	return runs, nil
}

func (r *repo) countFlowRuns(ctx context.Context, fq api.Filters) (int, error) {
	q, err := r.filters.Apply(r.db.Read.NewSelect().Model((*FlowRun)(nil)), "flow_run", "flow_runs", flowRunRelated, fq)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "flow runs")
}

func (r *repo) listTaskRuns(ctx context.Context, fq api.Filters, sort string, limit, offset int) ([]TaskRun, error) {
	runs := []TaskRun{}
	q, err := r.filters.Apply(r.db.Read.NewSelect().Model(&runs).Relation("StateRow"), "task_run", "task_runs", taskRunRelated, fq)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "task runs", taskRunSorts[sort], limit, offset); err != nil {
		return nil, err
	}
	readyTaskRuns(runs, clock())
	return runs, nil
}

func (r *repo) countTaskRuns(ctx context.Context, fq api.Filters) (int, error) {
	q, err := r.filters.Apply(r.db.Read.NewSelect().Model((*TaskRun)(nil)), "task_run", "task_runs", taskRunRelated, fq)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "task runs")
}

// updateFlowRun applies a PATCH; false if no such run.
func (r *repo) updateFlowRun(ctx context.Context, id uuid.UUID, u flowRunUpdate) (bool, error) {
	q := r.db.NewUpdate().Model((*FlowRun)(nil)).Set("updated = ?", types.Now()).Where("id = ?", id)
	if u.Name != nil {
		q = q.Set("name = ?", *u.Name)
	}
	if u.FlowVersion != nil {
		q = q.Set("flow_version = ?", *u.FlowVersion)
	}
	if u.Parameters != nil {
		q = q.Set("parameters = ?", jsonText(u.Parameters))
	}
	if u.EmpiricalPolicy != nil {
		q = q.Set("empirical_policy = ?", jsonText(u.EmpiricalPolicy))
	}
	if u.Tags != nil {
		q = q.Set("tags = ?", db.JSONList(*u.Tags))
	}
	if u.InfrastructurePID != nil {
		q = q.Set("infrastructure_pid = ?", *u.InfrastructurePID)
	}
	if u.JobVariables != nil {
		q = q.Set("job_variables = ?", jsonText(u.JobVariables))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update flow run %s: %w", id, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func jsonText(v any) string {
	b, _ := json.Marshal(v) // request bodies decoded from JSON always marshal
	return string(b)
}

// deleteRun deletes a flow run or task run (states go with it); false if none.
func (r *repo) deleteRun(ctx context.Context, model any, id uuid.UUID) (bool, error) {
	res, err := r.db.NewDelete().Model(model).Where("id = ?", id).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("delete run %s: %w", id, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// states lists a run's states, oldest first.
func (r *repo) states(ctx context.Context, kind o.Kind, runID uuid.UUID) ([]*o.State, error) {
	out := []*o.State{}
	if kind == o.FlowRun {
		var rows []flowRunState
		if err := r.db.Read.NewSelect().Model(&rows).Where("flow_run_id = ?", runID).Order("timestamp ASC").Scan(ctx); err != nil {
			return nil, fmt.Errorf("list flow run states: %w", db.Translate(err))
		}
		for i := range rows {
			out = append(out, rows[i].state())
		}
		return out, nil
	}
	var rows []taskRunState
	if err := r.db.Read.NewSelect().Model(&rows).Where("task_run_id = ?", runID).Order("timestamp ASC").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list task run states: %w", db.Translate(err))
	}
	for i := range rows {
		out = append(out, rows[i].state())
	}
	return out, nil
}

// state reads one state by id from either table.
func (r *repo) state(ctx context.Context, kind o.Kind, id uuid.UUID) (*o.State, error) {
	var err error
	var s *o.State
	if kind == o.FlowRun {
		var row flowRunState
		err = r.db.Read.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
		s = row.state()
	} else {
		var row taskRunState
		err = r.db.Read.NewSelect().Model(&row).Where("id = ?", id).Scan(ctx)
		s = row.state()
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", id, db.Translate(err))
	}
	return s, nil
}
