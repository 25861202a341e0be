package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/services"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The background services of runs, as Prefect's late_runs,
// pause_expirations and cancellation_cleanup perpetual services. Each run
// changes state in its own transaction, through the policy Prefect uses, so
// its state event is emitted as for any other change.

const serviceBatch = 200 // runs read per query

type serviceSettings struct {
	lateLoop, lateAfter, pauseLoop, cancelLoop, cancellingTimeout time.Duration
}

func loadServiceSettings(svc config.Services) (serviceSettings, error) {
	var s serviceSettings
	for _, d := range []struct {
		dst *time.Duration
		env string
		def time.Duration
	}{
		{&s.lateLoop, "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS", 5 * time.Second},
		{&s.lateAfter, "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS", 15 * time.Second},
		{&s.pauseLoop, "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS", 5 * time.Second},
		{&s.cancelLoop, "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS", 20 * time.Second},
		{&s.cancellingTimeout, "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_CANCELLING_TIMEOUT_SECONDS", 300 * time.Second},
	} {
		v, err := svc.Duration(d.env, d.def)
		if err != nil {
			return s, err
		}
		if v <= 0 && d.dst != &s.lateAfter && d.dst != &s.cancellingTimeout {
			return s, fmt.Errorf("%s: must be positive", d.env)
		}
		*d.dst = v
	}
	return s, nil
}

type runServices struct {
	repo *repo
	cfg  serviceSettings
	log  *zap.Logger
}

func newRunServices(r *repo, svc config.Services, log *zap.Logger) (*runServices, error) {
	cfg, err := loadServiceSettings(svc)
	if err != nil {
		return nil, err
	}
	return &runServices{repo: r, cfg: cfg, log: log.Named("runs.services")}, nil
}

func (s *runServices) lateRuns() services.Service {
	return services.Every("late_runs", s.cfg.lateLoop, s.log, s.markLateRuns)
}

func (s *runServices) pauseExpirations() services.Service {
	return services.Every("pause_expirations", s.cfg.pauseLoop, s.log, s.failExpiredPauses)
}

func (s *runServices) cancellationCleanup() services.Service {
	return services.Every("cancellation_cleanup", s.cfg.cancelLoop, s.log, func(ctx context.Context) error {
		for _, step := range []func(context.Context) error{s.cancelChildTaskRuns, s.cancelSubflowRuns, s.timeOutCancelling} {
			if err := step(ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// eachID pages through the ids a query selects, in id order, and calls fn
// on each. query gets the last id seen.
func (s *runServices) eachID(ctx context.Context, query func(after uuid.UUID) *bun.SelectQuery, fn func(uuid.UUID) error) error {
	after := uuid.Nil
	for {
		var ids []uuid.UUID
		if err := query(after).Order("id").Limit(serviceBatch).Scan(ctx, &ids); err != nil {
			return fmt.Errorf("read runs: %w", err)
		}
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		if len(ids) < serviceBatch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}

// setFlowState sets one flow run's state in its own transaction; a run
// deleted meanwhile is skipped.
func (s *runServices) setFlowState(ctx context.Context, id uuid.UUID, state *o.State, p *o.Policy) error {
	err := s.repo.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		_, err := s.repo.setFlowRunStateWith(ctx, tx, id, state, p, nil)
		return err
	})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("set state of flow run %s: %w", id, err)
	}
	return nil
}

// markLateRuns marks Late the scheduled runs that should have started
// PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS ago (MarkLateRunsPolicy).
func (s *runServices) markLateRuns(ctx context.Context) error {
	before := types.From(clock().Add(-s.cfg.lateAfter))
	var runs []FlowRun
	err := s.repo.db.Read.NewSelect().Model(&runs).Column("id", "next_scheduled_start_time").
		Where("state_type = ? AND state_name = 'Scheduled' AND next_scheduled_start_time <= ?", o.Scheduled, before).
		Limit(400).Scan(ctx)
	if err != nil {
		return fmt.Errorf("read late runs: %w", err)
	}
	for _, run := range runs {
		late := &o.State{ID: newStateID(), Type: o.Scheduled, Name: "Late", Timestamp: types.From(clock())}
		late.StateDetails.ScheduledTime = run.NextScheduledStartTime
		if err := s.setFlowState(ctx, run.ID, late, s.repo.policies.markLate); err != nil {
			return err
		}
	}
	return nil
}

// failExpiredPauses fails the paused runs whose pause timed out.
func (s *runServices) failExpiredPauses(ctx context.Context) error {
	return s.eachID(ctx, func(after uuid.UUID) *bun.SelectQuery {
		return s.repo.db.Read.NewSelect().Table("flow_run").Column("id").Where("state_type = ? AND id > ?", o.Paused, after)
	}, func(id uuid.UUID) error {
		run, err := s.repo.flowRun(ctx, id)
		if err != nil {
			return nil // deleted meanwhile
		}
		st := run.State
		if st == nil || st.Type != o.Paused || st.StateDetails.PauseTimeout == nil || !st.StateDetails.PauseTimeout.Before(clock()) {
			return nil
		}
		msg := "The flow was paused and never resumed."
		failed := &o.State{ID: newStateID(), Type: o.Failed, Name: "Failed", Timestamp: types.From(clock()), Message: &msg}
		return s.setFlowState(ctx, id, failed, s.repo.policies.flowForced)
	})
}

// parentCancelled is the message of runs cancelled with their parent.
const parentCancelled = "The parent flow run was cancelled."

var unfinished = []o.StateType{o.Scheduled, o.Pending, o.Running, o.Paused, o.Cancelling}

// cancelChildTaskRuns cancels the unfinished task runs of flow runs
// cancelled in the last day.
func (s *runServices) cancelChildTaskRuns(ctx context.Context) error {
	since := types.From(clock().Add(-24 * time.Hour))
	return s.eachID(ctx, func(after uuid.UUID) *bun.SelectQuery {
		return s.repo.db.Read.NewSelect().Table("task_run").Column("id").
			Where("state_type IN (?) AND id > ?", bun.In(unfinished), after).
			Where("flow_run_id IN (?)", s.repo.db.Read.NewSelect().Table("flow_run").Column("id").
				Where("state_type = ? AND end_time IS NOT NULL AND end_time >= ?", o.Cancelled, since))
	}, func(id uuid.UUID) error {
		msg := parentCancelled
		cancelled := &o.State{ID: newStateID(), Type: o.Cancelled, Name: "Cancelled", Timestamp: types.From(clock()), Message: &msg}
		err := s.repo.tx(ctx, func(ctx context.Context, tx bun.Tx) error {
			_, err := s.repo.setTaskRunState(ctx, tx, id, cancelled, true, nil)
			return err
		})
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("cancel task run %s: %w", id, err)
		}
		return nil
	})
}

// cancelSubflowRuns cancels the unfinished subflow runs whose containing
// flow run was cancelled: at once without a deployment, through Cancelling
// (for the worker to tear down) with one.
func (s *runServices) cancelSubflowRuns(ctx context.Context) error {
	return s.eachID(ctx, func(after uuid.UUID) *bun.SelectQuery {
		parents := s.repo.db.Read.NewSelect().TableExpr("task_run AS tr").Column("tr.id").
			Join("JOIN flow_run AS parent ON parent.id = tr.flow_run_id").Where("parent.state_type = ?", o.Cancelled)
		return s.repo.db.Read.NewSelect().Table("flow_run").Column("id").
			Where("state_type IN (?) AND id > ?", bun.In(unfinished), after).
			Where("parent_task_run_id IN (?)", parents)
	}, func(id uuid.UUID) error {
		run, err := s.repo.flowRun(ctx, id)
		if err != nil || run.State == nil || run.State.Type.Final() {
			return nil
		}
		if run.DeploymentID != nil && run.State.Type == o.Cancelling {
			return nil
		}
		msg := parentCancelled
		state := &o.State{ID: newStateID(), Type: o.Cancelled, Name: "Cancelled", Timestamp: types.From(clock()), Message: &msg}
		if run.DeploymentID != nil {
			state.Type, state.Name = o.Cancelling, "Cancelling"
		}
		return s.setFlowState(ctx, id, state, s.repo.policies.flowForced)
	})
}

// timeOutCancelling cancels the runs left Cancelling longer than
// PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_CANCELLING_TIMEOUT_SECONDS
// (the worker never confirmed the cancellation).
func (s *runServices) timeOutCancelling(ctx context.Context) error {
	deadline := types.From(clock().Add(-s.cfg.cancellingTimeout))
	return s.eachID(ctx, func(after uuid.UUID) *bun.SelectQuery {
		return s.repo.db.Read.NewSelect().Table("flow_run").Column("id").
			Where("state_type = ? AND state_timestamp <= ? AND id > ?", o.Cancelling, deadline, after)
	}, func(id uuid.UUID) error {
		msg := "Flow run cancellation timed out; marked this flow run as Cancelled."
		cancelled := &o.State{ID: newStateID(), Type: o.Cancelled, Name: "Cancelled", Timestamp: types.From(clock()), Message: &msg}
		return s.setFlowState(ctx, id, cancelled, s.repo.policies.flow)
	})
}
