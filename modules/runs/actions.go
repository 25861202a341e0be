package runs

import (
	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// stateCreate is Prefect's StateCreate.
type stateCreate struct {
	Type         *o.StateType   `json:"type"`
	Name         *string        `json:"name"`
	Message      *string        `json:"message"`
	Data         rawJSON        `json:"data"`
	StateDetails o.StateDetails `json:"state_details"`
}

func (s *stateCreate) validate(loc ...any) []api.FieldError {
	if s.Type == nil {
		return []api.FieldError{{Type: "missing", Loc: append(append([]any{"body"}, loc...), "type"), Msg: "Field required"}}
	}
	if !s.Type.Valid() {
		return []api.FieldError{{Type: "enum", Loc: append(append([]any{"body"}, loc...), "type"),
			Msg: "Input should be 'SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', 'PAUSED' or 'CANCELLING'", Input: string(*s.Type)}}
	}
	return nil
}

// toState builds the proposed state with Prefect's defaults: the name from
// the type and, for a scheduled state, a scheduled time of now.
func (s *stateCreate) toState(now types.DateTime) *o.State {
	st := &o.State{ID: newStateID(), Type: *s.Type, Timestamp: now, Message: s.Message,
		Data: []byte(s.Data), StateDetails: s.StateDetails}
	if s.Name != nil {
		st.Name = *s.Name
	} else {
		st.Name = s.Type.DefaultName()
	}
	if st.Type == o.Scheduled && st.StateDetails.ScheduledTime == nil {
		t := now
		st.StateDetails.ScheduledTime = &t
	}
	return st
}

func newStateID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}

// flowRunCreate is Prefect's FlowRunCreate.
type flowRunCreate struct {
	State                    *stateCreate     `json:"state"`
	Name                     *string          `json:"name"`
	FlowID                   *uuid.UUID       `json:"flow_id"`
	FlowVersion              *string          `json:"flow_version"`
	Parameters               map[string]any   `json:"parameters"`
	Context                  map[string]any   `json:"context"`
	ParentTaskRunID          *uuid.UUID       `json:"parent_task_run_id"`
	InfrastructureDocumentID *uuid.UUID       `json:"infrastructure_document_id"`
	EmpiricalPolicy          *o.FlowRunPolicy `json:"empirical_policy"`
	Tags                     []string         `json:"tags"`
	Labels                   map[string]any   `json:"labels"`
	IdempotencyKey           *string          `json:"idempotency_key"`
	WorkPoolName             *string          `json:"work_pool_name"`
	WorkQueueName            *string          `json:"work_queue_name"`
	JobVariables             map[string]any   `json:"job_variables"`
	DeploymentID             *uuid.UUID       `json:"deployment_id"`
}

func (c *flowRunCreate) Validate() []api.FieldError {
	if c.FlowID == nil {
		return api.Required("flow_id", nil)
	}
	if c.State != nil {
		if errs := c.State.validate("state"); len(errs) > 0 {
			return errs
		}
	}
	return api.CheckLabels("labels", c.Labels)
}

// flowRunUpdate is Prefect's FlowRunUpdate.
type flowRunUpdate struct {
	Name              *string          `json:"name"`
	FlowVersion       *string          `json:"flow_version"`
	Parameters        map[string]any   `json:"parameters"`
	EmpiricalPolicy   *o.FlowRunPolicy `json:"empirical_policy"`
	Tags              *[]string        `json:"tags"`
	InfrastructurePID *string          `json:"infrastructure_pid"`
	JobVariables      map[string]any   `json:"job_variables"`
}

// taskRunCreate is Prefect's TaskRunCreate.
type taskRunCreate struct {
	ID              *uuid.UUID       `json:"id"`
	State           *stateCreate     `json:"state"`
	Name            *string          `json:"name"`
	FlowRunID       *uuid.UUID       `json:"flow_run_id"`
	TaskKey         *string          `json:"task_key"`
	DynamicKey      *string          `json:"dynamic_key"`
	CacheKey        *string          `json:"cache_key"`
	CacheExpiration *types.DateTime  `json:"cache_expiration"`
	TaskVersion     *string          `json:"task_version"`
	EmpiricalPolicy *o.TaskRunPolicy `json:"empirical_policy"`
	Tags            []string         `json:"tags"`
	Labels          map[string]any   `json:"labels"`
	TaskInputs      map[string]any   `json:"task_inputs"`
}

func (c *taskRunCreate) Validate() []api.FieldError {
	if c.TaskKey == nil {
		return api.Required("task_key", nil)
	}
	if c.DynamicKey == nil {
		return api.Required("dynamic_key", nil)
	}
	if c.State != nil {
		if errs := c.State.validate("state"); len(errs) > 0 {
			return errs
		}
	}
	return api.CheckLabels("labels", c.Labels)
}

// setStateBody is the body of POST /{flow,task}_runs/{id}/set_state.
type setStateBody struct {
	State *stateCreate `json:"state"`
	Force bool         `json:"force"`
}

func (b *setStateBody) Validate() []api.FieldError {
	if b.State == nil {
		return api.Required("state", nil)
	}
	return b.State.validate("state")
}
