package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// policies are the flow and task policies of this build: the core rules
// and transforms plus what other modules contribute.
type policies struct {
	flow, flowForced, task, taskForced *o.Policy
	// markLate is MarkLateRunsPolicy, for the late_runs service.
	markLate *o.Policy
	// background is BackgroundTaskPolicy, for deferred task runs.
	background *o.Policy
}

func newPolicies(c o.Contributions, q *taskQueues) *policies {
	flow := o.NewPolicy(append(coreFlowRules(), c.FlowRules...), append(flowTransforms(), c.FlowTransforms...))
	task := o.NewPolicy(append(coreTaskRules(), c.TaskRules...), append(taskTransforms(), c.TaskTransforms...))
	forced := flow.Forced()
	return &policies{
		flow:       flow,
		flowForced: o.NewPolicy(append(forced.Rules, preventResultDataLoss()), forced.Transforms),
		task:       task,
		taskForced: task.Forced(),
		markLate:   o.NewPolicy([]o.Rule{ensureOnlyScheduledFlowsMarkedLate()}, flowTransforms()),
		background: o.NewPolicy(backgroundTaskRules(c.TaskRules, q), append(taskTransforms(), c.TaskTransforms...)),
	}
}

// lockRun takes the run's row lock on PostgreSQL before the run and its
// state are read, as Prefect's read_flow_run(for_update=True). It is its
// own statement: a "FOR UPDATE OF run" on the read that joins the state
// would, once a concurrent transition commits, recheck the run's new row
// against the old state row and see a stale state (two PENDINGs accepted).
// SQLite has one writer, so its transaction already serializes.
func lockRun(ctx context.Context, d *db.DB, tx bun.IDB, table string, id uuid.UUID) error {
	if !d.IsPostgres() {
		return nil
	}
	var locked uuid.UUID
	if err := tx.NewSelect().Table(table).Column("id").Where("id = ?", id).For("UPDATE").Scan(ctx, &locked); err != nil {
		return fmt.Errorf("lock %s %s: %w", table, id, db.Translate(err))
	}
	return nil
}

// setFlowRunState orchestrates a proposed state for a flow run in tx.
func (r *repo) setFlowRunState(ctx context.Context, tx bun.IDB, id uuid.UUID, proposed *o.State, force bool, params map[string]any) (*o.Result, error) {
	p := r.policies.flow
	if force {
		p = r.policies.flowForced
	}
	return r.setFlowRunStateWith(ctx, tx, id, proposed, p, params)
}

// setFlowRunStateWith orchestrates a proposed state for a flow run in tx
// through policy p (the services use their own, e.g. MarkLateRunsPolicy).
func (r *repo) setFlowRunStateWith(ctx context.Context, tx bun.IDB, id uuid.UUID, proposed *o.State, p *o.Policy, params map[string]any) (*o.Result, error) {
	var run FlowRun
	if err := lockRun(ctx, r.db, tx, "flow_run", id); err != nil {
		return nil, err
	}
	q := tx.NewSelect().Model(&run).Relation("StateRow").Where("flow_run.id = ?", id)
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("read flow run %s: %w", id, db.Translate(err))
	}
	orun := &o.Run{ID: run.ID, FlowID: run.FlowID, DeploymentID: run.DeploymentID, ParentTaskRunID: run.ParentTaskRunID,
		InfrastructurePID: run.InfrastructurePID, Tags: run.Tags, RunCount: run.RunCount,
		ExpectedStartTime: run.ExpectedStartTime, NextScheduledStartTime: run.NextScheduledStartTime,
		StartTime: run.StartTime, EndTime: run.EndTime, TotalRunTime: run.TotalRunTime, FlowPolicy: run.EmpiricalPolicy}
	t := o.NewTransition(o.FlowRun, tx, orun, run.StateRow.stateOrNil(), proposed)
	for k, v := range params {
		t.Parameters[k] = v
	}
	subflow := o.Transform{Name: "UpdateSubflowParentTask", After: r.updateSubflowParentTask}
	policy := &o.Policy{Rules: p.Rules, Transforms: append(append([]o.Transform{}, p.Transforms...), subflow)}
	if err := policy.Apply(ctx, t, r.writeState(tx, "flow_run_state", "flow_run_id")); err != nil {
		return nil, err
	}
	if t.Err != nil {
		return nil, t.Err
	}
	run.RunCount, run.ExpectedStartTime, run.NextScheduledStartTime = orun.RunCount, orun.ExpectedStartTime, orun.NextScheduledStartTime
	run.StartTime, run.EndTime, run.TotalRunTime, run.EmpiricalPolicy = orun.StartTime, orun.EndTime, orun.TotalRunTime, orun.FlowPolicy
	run.Updated = types.Now()
	cols := []string{"updated", "run_count", "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
		"total_run_time", "empirical_policy"}
	if !t.Nullified() {
		setRunState(&run.runColumns, t.Validated)
		cols = append(cols, "state_id", "state_type", "state_name", "state_timestamp")
	}
	if _, err := tx.NewUpdate().Model(&run).Column(cols...).WherePK().Exec(ctx); err != nil {
		return nil, fmt.Errorf("update flow run %s: %w", id, db.Translate(err))
	}
	if err := r.events.record(ctx, tx, &run, t); err != nil {
		return nil, err
	}
	return &o.Result{State: t.Validated, Status: t.Status, Details: t.Details}, nil
}

// setTaskRunState orchestrates a proposed state for a task run in tx.
func (r *repo) setTaskRunState(ctx context.Context, tx bun.IDB, id uuid.UUID, proposed *o.State, force bool, params map[string]any) (*o.Result, error) {
	var run TaskRun
	if err := lockRun(ctx, r.db, tx, "task_run", id); err != nil {
		return nil, err
	}
	q := tx.NewSelect().Model(&run).Relation("StateRow").Where("task_run.id = ?", id)
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("read task run %s: %w", id, db.Translate(err))
	}
	p := r.policies.task
	if force {
		p = r.policies.taskForced
	}
	if d := proposed.StateDetails.Deferred; d != nil && *d {
		p = r.policies.background // whether forced or not, as Prefect's set_task_run_state
	}
	orun := &o.Run{ID: run.ID, FlowRunID: run.FlowRunID, Tags: run.Tags, TaskKey: run.TaskKey, RunCount: run.RunCount,
		FlowRunRunCount: run.FlowRunRunCount, ExpectedStartTime: run.ExpectedStartTime, NextScheduledStartTime: run.NextScheduledStartTime,
		StartTime: run.StartTime, EndTime: run.EndTime, TotalRunTime: run.TotalRunTime, TaskPolicy: run.EmpiricalPolicy}
	t := o.NewTransition(o.TaskRun, tx, orun, run.StateRow.stateOrNil(), proposed)
	for k, v := range params {
		t.Parameters[k] = v
	}
	if run.FlowRunID != nil {
		var parent *o.ParentFlowRun
		t.FlowRun = func(ctx context.Context) (*o.ParentFlowRun, error) {
			if parent != nil {
				return parent, nil
			}
			var fr FlowRun
			err := tx.NewSelect().Model(&fr).Relation("StateRow").Where("flow_run.id = ?", *run.FlowRunID).Scan(ctx)
			if err != nil {
				if isNotFound(db.Translate(err)) {
					return nil, nil
				}
				return nil, fmt.Errorf("read flow run of task run: %w", err)
			}
			parent = &o.ParentFlowRun{ID: fr.ID, RunCount: fr.RunCount, State: fr.StateRow.stateOrNil()}
			return parent, nil
		}
	}
	if err := p.Apply(ctx, t, r.writeState(tx, "task_run_state", "task_run_id")); err != nil {
		return nil, err
	}
	if t.Err != nil {
		return nil, t.Err
	}
	run.RunCount, run.FlowRunRunCount, run.ExpectedStartTime, run.NextScheduledStartTime = orun.RunCount, orun.FlowRunRunCount, orun.ExpectedStartTime, orun.NextScheduledStartTime
	run.StartTime, run.EndTime, run.TotalRunTime, run.EmpiricalPolicy = orun.StartTime, orun.EndTime, orun.TotalRunTime, orun.TaskPolicy
	run.Updated = types.Now()
	cols := []string{"updated", "run_count", "flow_run_run_count", "expected_start_time", "next_scheduled_start_time",
		"start_time", "end_time", "total_run_time", "empirical_policy"}
	if !t.Nullified() {
		setRunState(&run.runColumns, t.Validated)
		cols = append(cols, "state_id", "state_type", "state_name", "state_timestamp")
	}
	if _, err := tx.NewUpdate().Model(&run).Column(cols...).WherePK().Exec(ctx); err != nil {
		return nil, fmt.Errorf("update task run %s: %w", id, db.Translate(err))
	}
	return &o.Result{State: t.Validated, Status: t.Status, Details: t.Details}, nil
}

// setRunState is SetRunStateType, SetRunStateName and SetRunStateTimestamp.
func setRunState(r *runColumns, s *o.State) {
	id, typ, name, ts := s.ID, s.Type, s.Name, s.Timestamp
	r.StateID, r.StateType, r.StateName, r.StateTimestamp = &id, &typ, &name, &ts
}

// writeState validates a transition: it inserts the proposed state (its
// timestamp moved past any state of the run with the same one, as
// EnsureFlowRunStateTimestampIsUnique does) or keeps the current state.
func (r *repo) writeState(tx bun.IDB, table, runCol string) o.Validate {
	return func(ctx context.Context, t *o.Transition) error {
		if t.Proposed == nil {
			t.Validated = t.Initial
			return nil
		}
		s := t.Proposed
		for {
			n, err := tx.NewSelect().Table(table).Where("? = ? AND timestamp = ?", bun.Ident(runCol), t.Run.ID, s.Timestamp).Count(ctx)
			if err != nil {
				return fmt.Errorf("check state timestamp: %w", err)
			}
			if n == 0 {
				break
			}
			s.Timestamp = types.From(s.Timestamp.Add(time.Microsecond))
		}
		now := types.Now()
		row := stateRow{ID: s.ID, Created: now, Updated: now, Type: s.Type, Timestamp: s.Timestamp, Name: s.Name,
			Message: s.Message, StateDetails: s.StateDetails, Data: rawJSON(s.Data)}
		var model any = &flowRunState{stateRow: row, FlowRunID: t.Run.ID}
		if table == "task_run_state" {
			model = &taskRunState{stateRow: row, TaskRunID: t.Run.ID}
		}
		if _, err := tx.NewInsert().Model(model).Exec(ctx); err != nil {
			return fmt.Errorf("insert %s: %w", table, db.Translate(err))
		}
		t.Validated = s
		return nil
	}
}

// updateSubflowParentTask mirrors a subflow's new state onto its parent
// task run (UpdateSubflowParentTask).
func (r *repo) updateSubflowParentTask(ctx context.Context, t *o.Transition) error {
	if t.Nullified() || t.Run.ParentTaskRunID == nil || t.Validated == nil {
		return nil
	}
	s := t.Validated.Copy()
	s.ID, s.Timestamp = newStateID(), types.Now()
	child := t.Run.ID
	s.StateDetails.ChildFlowRunID = &child
	s.StateDetails.TaskRunID = nil
	_, err := r.setTaskRunState(ctx, t.Tx, *t.Run.ParentTaskRunID, s, true, nil)
	if isNotFound(err) {
		return nil
	}
	return err
}
