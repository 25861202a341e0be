package deployments

import (
	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Deployment is a deployment as stored and as the API returns it (Prefect's
// DeploymentResponse).
type Deployment struct {
	bun.BaseModel `bun:"table:deployment,alias:deployment"`

	ID          uuid.UUID             `bun:"id,pk,type:uuid" json:"id"`
	Created     types.DateTime        `bun:"created,notnull" json:"created"`
	Updated     types.DateTime        `bun:"updated,notnull" json:"updated"`
	Name        string                `bun:"name,notnull" json:"name"`
	Version     *string               `bun:"version" json:"version"`
	Description *string               `bun:"description" json:"description"`
	FlowID      uuid.UUID             `bun:"flow_id,type:uuid,notnull" json:"flow_id"`
	Paused      bool                  `bun:"paused,notnull" json:"paused"`
	Schedules   []*DeploymentSchedule `bun:"rel:has-many,join:id=deployment_id" json:"schedules"`
	// ConcurrencyLimit is deprecated in Prefect and always null there.
	ConcurrencyLimit         *int                     `bun:"-" json:"concurrency_limit"`
	GlobalConcurrencyLimit   *concurrency.GlobalLimit `bun:"-" json:"global_concurrency_limit"`
	ConcurrencyOptions       *ConcurrencyOptions      `bun:"concurrency_options" json:"concurrency_options"`
	ConcurrencyLimitID       *uuid.UUID               `bun:"concurrency_limit_id,type:uuid" json:"-"`
	JobVariables             map[string]any           `bun:"job_variables,notnull" json:"job_variables"`
	Parameters               map[string]any           `bun:"parameters,notnull" json:"parameters"`
	Tags                     []string                 `bun:"tags,notnull" json:"tags"`
	Labels                   map[string]any           `bun:"labels" json:"labels"`
	WorkQueueName            *string                  `bun:"work_queue_name" json:"work_queue_name"`
	WorkQueueID              *uuid.UUID               `bun:"work_queue_id,type:uuid" json:"work_queue_id"`
	LastPolled               *types.DateTime          `bun:"last_polled" json:"last_polled"`
	ParameterOpenAPISchema   map[string]any           `bun:"parameter_openapi_schema" json:"parameter_openapi_schema"`
	Path                     *string                  `bun:"path" json:"path"`
	PullSteps                []map[string]any         `bun:"pull_steps" json:"pull_steps"`
	Entrypoint               *string                  `bun:"entrypoint" json:"entrypoint"`
	StorageDocumentID        *uuid.UUID               `bun:"storage_document_id,type:uuid" json:"storage_document_id"`
	InfrastructureDocumentID *uuid.UUID               `bun:"infrastructure_document_id,type:uuid" json:"infrastructure_document_id"`
	CreatedBy                map[string]any           `bun:"created_by" json:"created_by"`
	UpdatedBy                map[string]any           `bun:"updated_by" json:"updated_by"`
	WorkPoolName             *string                  `bun:"-" json:"work_pool_name"`
	Status                   string                   `bun:"status,notnull" json:"status"`
	EnforceParameterSchema   bool                     `bun:"enforce_parameter_schema,notnull" json:"enforce_parameter_schema"`
}

// ConcurrencyOptions is Prefect's ConcurrencyOptions.
type ConcurrencyOptions struct {
	CollisionStrategy  string `json:"collision_strategy"`
	GracePeriodSeconds *int   `json:"grace_period_seconds"`
}

// Validate checks the collision strategy (Prefect's ConcurrencyLimitStrategy).
func (c *ConcurrencyOptions) validate(loc ...any) []api.FieldError {
	if c == nil || c.CollisionStrategy == "ENQUEUE" || c.CollisionStrategy == "CANCEL_NEW" {
		return nil
	}
	return []api.FieldError{{Type: "enum", Loc: append(append([]any{"body"}, loc...), "collision_strategy"),
		Msg: "Input should be 'ENQUEUE' or 'CANCEL_NEW'", Input: c.CollisionStrategy,
		Ctx: map[string]any{"expected": "'ENQUEUE' or 'CANCEL_NEW'"}}}
}

// DeploymentSchedule is Prefect's DeploymentSchedule.
type DeploymentSchedule struct {
	bun.BaseModel `bun:"table:deployment_schedule,alias:deployment_schedule"`

	ID               uuid.UUID      `bun:"id,pk,type:uuid" json:"id"`
	Created          types.DateTime `bun:"created,notnull" json:"created"`
	Updated          types.DateTime `bun:"updated,notnull" json:"updated"`
	DeploymentID     uuid.UUID      `bun:"deployment_id,type:uuid,notnull" json:"deployment_id"`
	Schedule         Schedule       `bun:"schedule,notnull" json:"schedule"`
	Active           bool           `bun:"active,notnull" json:"active"`
	MaxScheduledRuns *int           `bun:"max_scheduled_runs" json:"max_scheduled_runs"`
	Parameters       map[string]any `bun:"parameters,notnull" json:"parameters"`
	Slug             *string        `bun:"slug" json:"slug"`
}

// Deployment statuses.
const (
	statusReady    = "READY"
	statusNotReady = "NOT_READY"
)
