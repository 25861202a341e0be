package runs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// FlowRunCreator lets other modules (deployments and its scheduler) create
// and read flow runs through this module, so that a run's first state is
// orchestrated as POST /flow_runs/ does it.
type FlowRunCreator struct{ repo *repo }

func newFlowRunCreator(r *repo) *FlowRunCreator { return &FlowRunCreator{repo: r} }

// NewFlowRun is what a module sets on a flow run it creates; the rest takes
// Prefect's defaults.
type NewFlowRun struct {
	FlowID                   uuid.UUID
	Name                     *string // a generated name when nil or empty
	DeploymentID             *uuid.UUID
	DeploymentVersion        *string
	Parameters               map[string]any
	Context                  map[string]any
	JobVariables             map[string]any
	Tags                     []string
	Labels                   map[string]any
	IdempotencyKey           *string
	WorkQueueID              *uuid.UUID
	WorkQueueName            *string
	InfrastructureDocumentID *uuid.UUID
	ParentTaskRunID          *uuid.UUID
	EmpiricalPolicy          *o.FlowRunPolicy
	CreatedBy                map[string]any
	AutoScheduled            bool
	// State is the first state; Scheduled now when nil.
	State *o.State
}

func (n *NewFlowRun) row() (*FlowRun, *o.State, error) {
	now := types.Now()
	run := &FlowRun{FlowID: n.FlowID, Parameters: orEmpty(n.Parameters), Context: orEmpty(n.Context),
		JobVariables: orEmpty(n.JobVariables), DeploymentID: n.DeploymentID, DeploymentVersion: n.DeploymentVersion,
		IdempotencyKey: n.IdempotencyKey, WorkQueueID: n.WorkQueueID, WorkQueueName: n.WorkQueueName,
		InfrastructureDocumentID: n.InfrastructureDocumentID, ParentTaskRunID: n.ParentTaskRunID, AutoScheduled: n.AutoScheduled}
	run.ID, run.Created, run.Updated, run.Name, run.Tags = newStateID(), now, now, runName(n.Name), n.Tags
	if run.Tags == nil {
		run.Tags = []string{}
	}
	run.Labels = map[string]any{}
	for k, v := range n.Labels {
		run.Labels[k] = v
	}
	run.Labels["prefect.flow.id"] = run.FlowID.String()
	if n.EmpiricalPolicy != nil {
		run.EmpiricalPolicy = *n.EmpiricalPolicy
	}
	if run.EmpiricalPolicy.PauseKeys == nil {
		run.EmpiricalPolicy.PauseKeys = []string{}
	}
	if n.CreatedBy != nil {
		b, err := json.Marshal(n.CreatedBy)
		if err != nil {
			return nil, nil, fmt.Errorf("encode created_by: %w", err)
		}
		run.CreatedBy = rawJSON(b)
	}
	state := n.State
	if state == nil {
		t := now
		state = &o.State{Type: o.Scheduled, Name: "Scheduled", Timestamp: now, StateDetails: o.StateDetails{ScheduledTime: &t}}
	}
	if state.ID == uuid.Nil {
		state.ID = newStateID()
	}
	return run, state, nil
}

// Create creates the run in its own transaction (or finds the one with its
// idempotency key) and returns it and whether it was inserted.
func (c *FlowRunCreator) Create(ctx context.Context, n NewFlowRun, params map[string]any) (*FlowRun, bool, error) {
	run, state, err := n.row()
	if err != nil {
		return nil, false, err
	}
	return c.repo.createFlowRun(ctx, run, state, params)
}

// CreateIn creates the run in tx and returns its id and whether it was
// inserted; an existing run with the same flow and idempotency key is kept.
func (c *FlowRunCreator) CreateIn(ctx context.Context, tx bun.IDB, n NewFlowRun) (uuid.UUID, bool, error) {
	run, state, err := n.row()
	if err != nil {
		return uuid.Nil, false, err
	}
	return c.repo.createFlowRunIn(ctx, tx, run, state, nil)
}

// Read reads one flow run as the API answers it.
func (c *FlowRunCreator) Read(ctx context.Context, id uuid.UUID) (*FlowRun, error) {
	return c.repo.flowRun(ctx, id)
}

// List reads flow runs as POST /flow_runs/filter does, with filters by body
// key ("flow_runs", "deployments", ...).
func (c *FlowRunCreator) List(ctx context.Context, f api.Filters, sort string, limit int) ([]FlowRun, error) {
	if _, ok := flowRunSorts[sort]; !ok {
		return nil, fmt.Errorf("unknown flow run sort %q", sort)
	}
	return c.repo.listFlowRuns(ctx, f, sort, limit, 0)
}

// createFlowRunIn inserts the run unless one with its flow and idempotency
// key exists, then sets its first state (forced, as Prefect does).
func (r *repo) createFlowRunIn(ctx context.Context, tx bun.IDB, run *FlowRun, state *o.State, params map[string]any) (uuid.UUID, bool, error) {
	res, err := tx.NewInsert().Model(run).On("CONFLICT DO NOTHING").Exec(ctx)
	if err != nil {
		return uuid.Nil, false, fmt.Errorf("insert flow run: %w", db.Translate(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return uuid.Nil, false, err
	}
	if n != 1 {
		var existing FlowRun
		err := tx.NewSelect().Model(&existing).Column("id").Where("flow_id = ? AND idempotency_key = ?", run.FlowID, run.IdempotencyKey).Scan(ctx)
		if err != nil {
			return uuid.Nil, false, fmt.Errorf("read flow run by idempotency key: %w", db.Translate(err))
		}
		return existing.ID, false, nil
	}
	if _, err := r.setFlowRunState(ctx, tx, run.ID, state, true, params); err != nil {
		return uuid.Nil, false, err
	}
	return run.ID, true, nil
}
