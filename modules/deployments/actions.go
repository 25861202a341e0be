package deployments

import (
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
)

// scheduleCreate is Prefect's DeploymentScheduleCreate.
type scheduleCreate struct {
	Active           *bool          `json:"active"`
	Schedule         *Schedule      `json:"schedule"`
	MaxScheduledRuns *int           `json:"max_scheduled_runs"`
	Parameters       map[string]any `json:"parameters"`
	Slug             *string        `json:"slug"`
	Replaces         *string        `json:"replaces"`
}

func (s *scheduleCreate) validate(loc ...any) []api.FieldError {
	at := func(field string) []any { return append(append([]any{"body"}, loc...), field) }
	if s.Schedule == nil {
		return []api.FieldError{{Type: "missing", Loc: at("schedule"), Msg: "Field required"}}
	}
	if s.MaxScheduledRuns != nil && *s.MaxScheduledRuns <= 0 {
		return []api.FieldError{{Type: "greater_than", Loc: at("max_scheduled_runs"), Msg: "Input should be greater than 0",
			Input: *s.MaxScheduledRuns, Ctx: map[string]any{"gt": 0}}}
	}
	return nil
}

// scheduleUpdate is Prefect's DeploymentScheduleUpdate.
type scheduleUpdate struct {
	Active           *bool          `json:"active"`
	Schedule         *Schedule      `json:"schedule"`
	MaxScheduledRuns *int           `json:"max_scheduled_runs"`
	Parameters       map[string]any `json:"parameters"`
	Slug             *string        `json:"slug"`
	Replaces         *string        `json:"replaces"`
}

func (s *scheduleUpdate) Validate() []api.FieldError {
	if s.MaxScheduledRuns != nil && *s.MaxScheduledRuns <= 0 {
		return []api.FieldError{{Type: "greater_than", Loc: []any{"body", "max_scheduled_runs"}, Msg: "Input should be greater than 0",
			Input: *s.MaxScheduledRuns, Ctx: map[string]any{"gt": 0}}}
	}
	return nil
}

// deploymentCreate is Prefect's DeploymentCreate. Pointer fields are nil
// when not sent: an upsert updates only what was sent, as Prefect's
// exclude_unset does.
type deploymentCreate struct {
	Name                     *string                    `json:"name"`
	FlowID                   *uuid.UUID                 `json:"flow_id"`
	Paused                   *bool                      `json:"paused"`
	Schedules                []scheduleCreate           `json:"schedules"`
	ConcurrencyLimit         optionalInt                `json:"concurrency_limit"`
	ConcurrencyOptions       *ConcurrencyOptions        `json:"concurrency_options"`
	GlobalConcurrencyLimitID *uuid.UUID                 `json:"global_concurrency_limit_id"`
	EnforceParameterSchema   *bool                      `json:"enforce_parameter_schema"`
	ParameterOpenAPISchema   optional[map[string]any]   `json:"parameter_openapi_schema"`
	Parameters               map[string]any             `json:"parameters"`
	Tags                     []string                   `json:"tags"`
	Labels                   map[string]any             `json:"labels"`
	PullSteps                optional[[]map[string]any] `json:"pull_steps"`
	WorkQueueName            *string                    `json:"work_queue_name"`
	WorkPoolName             *string                    `json:"work_pool_name"`
	StorageDocumentID        *uuid.UUID                 `json:"storage_document_id"`
	InfrastructureDocumentID *uuid.UUID                 `json:"infrastructure_document_id"`
	Description              *string                    `json:"description"`
	Path                     *string                    `json:"path"`
	Version                  *string                    `json:"version"`
	Entrypoint               *string                    `json:"entrypoint"`
	JobVariables             map[string]any             `json:"job_variables"`
	VersionInfo              map[string]any             `json:"version_info"`
}

func (c *deploymentCreate) Validate() []api.FieldError {
	if c.Name == nil {
		return api.Required("name", nil)
	}
	if c.FlowID == nil {
		return api.Required("flow_id", nil)
	}
	errs := api.CheckName("name", *c.Name)
	errs = append(errs, checkConcurrencyLimit(c.ConcurrencyLimit.Value)...)
	errs = append(errs, c.ConcurrencyOptions.validate("concurrency_options")...)
	for i := range c.Schedules {
		errs = append(errs, c.Schedules[i].validate("schedules", i)...)
	}
	return append(errs, api.CheckLabels("labels", c.Labels)...)
}

func checkConcurrencyLimit(n *int) []api.FieldError {
	if n != nil && *n <= 0 {
		return []api.FieldError{{Type: "greater_than", Loc: []any{"body", "concurrency_limit"},
			Msg: "Input should be greater than 0", Input: *n, Ctx: map[string]any{"gt": 0}}}
	}
	return nil
}

// optionalInt tells a null from an absent field: Prefect deletes a
// deployment's limit on "concurrency_limit": null and keeps it when absent.
type optionalInt struct {
	Set   bool
	Value *int
}

func (o *optionalInt) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("concurrency_limit: Input should be a valid integer")
	}
	o.Value = &n
	return nil
}

// optional tells a null from an absent field where Prefect does: its
// update clears a deployment's work queue on "work_pool_name": null and keeps
// it when absent; its create stores {} for an absent
// parameter_openapi_schema and null for a null one.
type optional[T any] struct {
	Set   bool
	Value *T
}

func (o *optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Value = nil
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err // a type error: the decoder adds the field's name
	}
	o.Value = &v
	return nil
}

// deploymentUpdate is Prefect's DeploymentUpdate.
type deploymentUpdate struct {
	Version                  *string             `json:"version"`
	Description              *string             `json:"description"`
	Paused                   *bool               `json:"paused"`
	Schedules                []scheduleCreate    `json:"schedules"`
	ConcurrencyLimit         optionalInt         `json:"concurrency_limit"`
	ConcurrencyOptions       *ConcurrencyOptions `json:"concurrency_options"`
	GlobalConcurrencyLimitID *uuid.UUID          `json:"global_concurrency_limit_id"`
	Parameters               map[string]any      `json:"parameters"`
	ParameterOpenAPISchema   map[string]any      `json:"parameter_openapi_schema"`
	Tags                     []string            `json:"tags"`
	WorkQueueName            optional[string]    `json:"work_queue_name"`
	WorkPoolName             optional[string]    `json:"work_pool_name"`
	Path                     *string             `json:"path"`
	JobVariables             map[string]any      `json:"job_variables"`
	PullSteps                []map[string]any    `json:"pull_steps"`
	Entrypoint               *string             `json:"entrypoint"`
	StorageDocumentID        *uuid.UUID          `json:"storage_document_id"`
	InfrastructureDocumentID *uuid.UUID          `json:"infrastructure_document_id"`
	EnforceParameterSchema   *bool               `json:"enforce_parameter_schema"`
	VersionInfo              map[string]any      `json:"version_info"`
}

func (u *deploymentUpdate) Validate() []api.FieldError {
	errs := checkConcurrencyLimit(u.ConcurrencyLimit.Value)
	return append(errs, u.ConcurrencyOptions.validate("concurrency_options")...)
}

// flowRunFromDeployment is Prefect's DeploymentFlowRunCreate.
type flowRunFromDeployment struct {
	State                    *stateCreate     `json:"state"`
	Name                     *string          `json:"name"`
	Parameters               map[string]any   `json:"parameters"`
	EnforceParameterSchema   *bool            `json:"enforce_parameter_schema"`
	Context                  map[string]any   `json:"context"`
	InfrastructureDocumentID *uuid.UUID       `json:"infrastructure_document_id"`
	EmpiricalPolicy          *o.FlowRunPolicy `json:"empirical_policy"`
	Tags                     []string         `json:"tags"`
	IdempotencyKey           *string          `json:"idempotency_key"`
	Labels                   map[string]any   `json:"labels"`
	ParentTaskRunID          *uuid.UUID       `json:"parent_task_run_id"`
	WorkQueueName            *string          `json:"work_queue_name"`
	JobVariables             map[string]any   `json:"job_variables"`
}

func (c *flowRunFromDeployment) Validate() []api.FieldError {
	if c.State != nil && c.State.Type != nil && !c.State.Type.Valid() {
		return []api.FieldError{{Type: "enum", Loc: []any{"body", "state", "type"},
			Msg:   "Input should be 'SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', 'PAUSED' or 'CANCELLING'",
			Input: string(*c.State.Type)}}
	}
	if c.State != nil && c.State.Type == nil {
		return []api.FieldError{{Type: "missing", Loc: []any{"body", "state", "type"}, Msg: "Field required"}}
	}
	return api.CheckLabels("labels", c.Labels)
}

// stateCreate is Prefect's StateCreate, as a deployment's run may carry it.
type stateCreate struct {
	Type         *o.StateType   `json:"type"`
	Name         *string        `json:"name"`
	Message      *string        `json:"message"`
	Data         any            `json:"data"`
	StateDetails o.StateDetails `json:"state_details"`
}
