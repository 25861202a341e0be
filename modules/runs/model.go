package runs

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// rawJSON is a JSON value kept as sent, stored as JSON text (NULL when
// absent) and written as null when absent.
type rawJSON []byte

func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = nil
		return nil
	}
	*r = append((*r)[:0], b...)
	return nil
}

func (r rawJSON) Value() (driver.Value, error) {
	if len(r) == 0 || string(r) == "null" {
		return nil, nil
	}
	return string(r), nil
}

func (r *rawJSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*r = nil
	case string:
		*r = rawJSON(v)
	case []byte:
		*r = append(rawJSON(nil), v...)
	default:
		return fmt.Errorf("scan json: unsupported type %T", src)
	}
	return nil
}

// stateRow is a row of flow_run_state or task_run_state (one model, two
// tables: the query names the table).
type stateRow struct {
	ID           uuid.UUID      `bun:"id,pk,type:uuid"`
	Created      types.DateTime `bun:"created,notnull"`
	Updated      types.DateTime `bun:"updated,notnull"`
	Type         o.StateType    `bun:"type,notnull"`
	Timestamp    types.DateTime `bun:"timestamp,notnull"`
	Name         string         `bun:"name,notnull"`
	Message      *string        `bun:"message"`
	StateDetails o.StateDetails `bun:"state_details,notnull"`
	Data         rawJSON        `bun:"data"`
}

func (s *stateRow) state() *o.State {
	if s == nil || s.ID == uuid.Nil {
		return nil
	}
	return &o.State{ID: s.ID, Type: s.Type, Name: s.Name, Timestamp: s.Timestamp, Message: s.Message,
		Data: json.RawMessage(s.Data), StateDetails: s.StateDetails}
}

type flowRunState struct {
	bun.BaseModel `bun:"table:flow_run_state,alias:flow_run_state"`
	stateRow
	FlowRunID uuid.UUID `bun:"flow_run_id,type:uuid,notnull"`
}

type taskRunState struct {
	bun.BaseModel `bun:"table:task_run_state,alias:task_run_state"`
	stateRow
	TaskRunID uuid.UUID `bun:"task_run_id,type:uuid,notnull"`
}

// runColumns are the columns flow and task runs share (Prefect's Run).
type runColumns struct {
	ID                     uuid.UUID       `bun:"id,pk,type:uuid" json:"id"`
	Created                types.DateTime  `bun:"created,notnull" json:"created"`
	Updated                types.DateTime  `bun:"updated,notnull" json:"updated"`
	Name                   string          `bun:"name,notnull" json:"name"`
	StateID                *uuid.UUID      `bun:"state_id,type:uuid" json:"state_id"`
	StateType              *o.StateType    `bun:"state_type" json:"state_type"`
	StateName              *string         `bun:"state_name" json:"state_name"`
	StateTimestamp         *types.DateTime `bun:"state_timestamp" json:"-"`
	RunCount               int             `bun:"run_count,notnull" json:"run_count"`
	ExpectedStartTime      *types.DateTime `bun:"expected_start_time" json:"expected_start_time"`
	NextScheduledStartTime *types.DateTime `bun:"next_scheduled_start_time" json:"next_scheduled_start_time"`
	StartTime              *types.DateTime `bun:"start_time" json:"start_time"`
	EndTime                *types.DateTime `bun:"end_time" json:"end_time"`
	TotalRunTime           float64         `bun:"total_run_time,notnull" json:"total_run_time"`
	Tags                   []string        `bun:"tags,notnull" json:"tags"`
	Labels                 map[string]any  `bun:"labels" json:"labels"`
	// Computed on read, as Prefect's hybrid properties.
	EstimatedRunTime        float64 `bun:"-" json:"estimated_run_time"`
	EstimatedStartTimeDelta float64 `bun:"-" json:"estimated_start_time_delta"`
}

// estimate fills the computed fields (estimated_run_time,
// estimated_start_time_delta) at now.
func (r *runColumns) estimate(now time.Time) {
	r.EstimatedRunTime = r.TotalRunTime
	if r.StateType != nil && *r.StateType == o.Running && r.StateTimestamp != nil {
		r.EstimatedRunTime += now.Sub(r.StateTimestamp.Time).Seconds()
	}
	r.EstimatedStartTimeDelta = 0
	switch {
	case r.StartTime != nil && r.ExpectedStartTime != nil && r.StartTime.After(r.ExpectedStartTime.Time):
		r.EstimatedStartTimeDelta = r.StartTime.Sub(r.ExpectedStartTime.Time).Seconds()
	case r.StartTime == nil && r.ExpectedStartTime != nil && r.ExpectedStartTime.Before(now) &&
		(r.StateType == nil || !r.StateType.Final()):
		r.EstimatedStartTimeDelta = now.Sub(r.ExpectedStartTime.Time).Seconds()
	}
}

// FlowRun is a flow run as stored and as the API returns it (Prefect's
// FlowRunResponse).
type FlowRun struct {
	bun.BaseModel `bun:"table:flow_run,alias:flow_run"`
	runColumns

	FlowID                   uuid.UUID       `bun:"flow_id,type:uuid,notnull" json:"flow_id"`
	DeploymentID             *uuid.UUID      `bun:"deployment_id,type:uuid" json:"deployment_id"`
	DeploymentVersion        *string         `bun:"deployment_version" json:"deployment_version"`
	WorkQueueID              *uuid.UUID      `bun:"work_queue_id,type:uuid" json:"work_queue_id"`
	WorkQueueName            *string         `bun:"work_queue_name" json:"work_queue_name"`
	FlowVersion              *string         `bun:"flow_version" json:"flow_version"`
	Parameters               map[string]any  `bun:"parameters,notnull" json:"parameters"`
	IdempotencyKey           *string         `bun:"idempotency_key" json:"idempotency_key"`
	Context                  map[string]any  `bun:"context,notnull" json:"context"`
	EmpiricalPolicy          o.FlowRunPolicy `bun:"empirical_policy,notnull" json:"empirical_policy"`
	ParentTaskRunID          *uuid.UUID      `bun:"parent_task_run_id,type:uuid" json:"parent_task_run_id"`
	AutoScheduled            bool            `bun:"auto_scheduled,notnull" json:"auto_scheduled"`
	InfrastructureDocumentID *uuid.UUID      `bun:"infrastructure_document_id,type:uuid" json:"infrastructure_document_id"`
	InfrastructurePID        *string         `bun:"infrastructure_pid" json:"infrastructure_pid"`
	CreatedBy                rawJSON         `bun:"created_by" json:"created_by"`
	JobVariables             map[string]any  `bun:"job_variables" json:"job_variables"`
	WorkPoolID               *uuid.UUID      `bun:"-" json:"work_pool_id"`
	WorkPoolName             *string         `bun:"-" json:"work_pool_name"`

	StateRow *flowRunState `bun:"rel:belongs-to,join:state_id=id" json:"-"`
	State    *o.State      `bun:"-" json:"state"`
}

// TaskRun is a task run as stored and as the API returns it (Prefect's
// TaskRun).
type TaskRun struct {
	bun.BaseModel `bun:"table:task_run,alias:task_run"`
	runColumns

	FlowRunID       *uuid.UUID      `bun:"flow_run_id,type:uuid" json:"flow_run_id"`
	TaskKey         string          `bun:"task_key,notnull" json:"task_key"`
	DynamicKey      string          `bun:"dynamic_key,notnull" json:"dynamic_key"`
	CacheKey        *string         `bun:"cache_key" json:"cache_key"`
	CacheExpiration *types.DateTime `bun:"cache_expiration" json:"cache_expiration"`
	TaskVersion     *string         `bun:"task_version" json:"task_version"`
	FlowRunRunCount int             `bun:"flow_run_run_count,notnull" json:"flow_run_run_count"`
	EmpiricalPolicy o.TaskRunPolicy `bun:"empirical_policy,notnull" json:"empirical_policy"`
	TaskInputs      map[string]any  `bun:"task_inputs,notnull" json:"task_inputs"`

	StateRow *taskRunState `bun:"rel:belongs-to,join:state_id=id" json:"-"`
	State    *o.State      `bun:"-" json:"state"`
}

// ready prepares rows read from the database for the response.
func readyFlowRuns(runs []FlowRun, now time.Time) {
	for i := range runs {
		runs[i].State = runs[i].StateRow.stateOrNil()
		runs[i].estimate(now)
	}
}

func readyTaskRuns(runs []TaskRun, now time.Time) {
	for i := range runs {
		runs[i].State = runs[i].StateRow.stateOrNil()
		runs[i].estimate(now)
	}
}

func (s *flowRunState) stateOrNil() *o.State {
	if s == nil {
		return nil
	}
	return s.state()
}

func (s *taskRunState) stateOrNil() *o.State {
	if s == nil {
		return nil
	}
	return s.state()
}
