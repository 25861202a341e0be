package workpools

import (
	"encoding/json"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/types"
)

// Statuses as Prefect names them (schemas/statuses.py).
const (
	statusReady    = "READY"
	statusNotReady = "NOT_READY"
	statusPaused   = "PAUSED"
	workerOnline   = "ONLINE"
	workerOffline  = "OFFLINE"
)

// agentPoolType is the legacy pool type: its status is always reported as
// null, and pausing it never changes a status.
const agentPoolType = "prefect-agent"

// DefaultAgentPoolName is the pool that legacy, pool-less work queues live in.
const DefaultAgentPoolName = "default-agent-pool"

// WorkPool is a work pool as stored (Prefect's orm WorkPool).
type WorkPool struct {
	bun.BaseModel `bun:"table:work_pool,alias:work_pool"`

	ID                       uuid.UUID       `bun:"id,pk,type:uuid"`
	Created                  types.DateTime  `bun:"created,notnull"`
	Updated                  types.DateTime  `bun:"updated,notnull"`
	Name                     string          `bun:"name,notnull"`
	Description              *string         `bun:"description"`
	Type                     string          `bun:"type,notnull"`
	BaseJobTemplate          json.RawMessage `bun:"base_job_template,notnull,type:jsonb"`
	IsPaused                 bool            `bun:"is_paused,notnull"`
	DefaultQueueID           *uuid.UUID      `bun:"default_queue_id,type:uuid"`
	ConcurrencyLimit         *int            `bun:"concurrency_limit"`
	Status                   string          `bun:"status,notnull"`
	LastTransitionedStatusAt *types.DateTime `bun:"last_transitioned_status_at"`
	LastStatusEventID        *uuid.UUID      `bun:"last_status_event_id,type:uuid"`
	StorageConfiguration     storageConfig   `bun:"storage_configuration,notnull,type:jsonb"`
}

// storageConfig is Prefect's WorkPoolStorageConfiguration.
type storageConfig struct {
	BundleUploadStep            map[string]any `json:"bundle_upload_step"`
	BundleExecutionStep         map[string]any `json:"bundle_execution_step"`
	DefaultResultStorageBlockID *uuid.UUID     `json:"default_result_storage_block_id"`
}

// poolResponse is Prefect's WorkPoolResponse.
type poolResponse struct {
	ID                   uuid.UUID       `json:"id"`
	Created              types.DateTime  `json:"created"`
	Updated              types.DateTime  `json:"updated"`
	Name                 string          `json:"name"`
	Description          *string         `json:"description"`
	Type                 string          `json:"type"`
	BaseJobTemplate      json.RawMessage `json:"base_job_template"`
	IsPaused             bool            `json:"is_paused"`
	ConcurrencyLimit     *int            `json:"concurrency_limit"`
	Status               *string         `json:"status"`
	DefaultQueueID       *uuid.UUID      `json:"default_queue_id"`
	StorageConfiguration storageConfig   `json:"storage_configuration"`
	ActiveSlots          *int            `json:"active_slots"`
}

func (p *WorkPool) response(activeSlots int) poolResponse {
	out := poolResponse{ID: p.ID, Created: p.Created, Updated: p.Updated, Name: p.Name, Description: p.Description,
		Type: p.Type, BaseJobTemplate: p.BaseJobTemplate, IsPaused: p.IsPaused, ConcurrencyLimit: p.ConcurrencyLimit,
		DefaultQueueID: p.DefaultQueueID, StorageConfiguration: p.StorageConfiguration}
	if len(out.BaseJobTemplate) == 0 {
		out.BaseJobTemplate = json.RawMessage("{}")
	}
	if p.Type != agentPoolType {
		s := p.Status
		out.Status = &s
	}
	if p.ConcurrencyLimit != nil {
		out.ActiveSlots = &activeSlots
	}
	return out
}

// WorkQueue is a work queue as stored (Prefect's orm WorkQueue).
type WorkQueue struct {
	bun.BaseModel `bun:"table:work_queue,alias:work_queue"`

	ID               uuid.UUID       `bun:"id,pk,type:uuid"`
	Created          types.DateTime  `bun:"created,notnull"`
	Updated          types.DateTime  `bun:"updated,notnull"`
	Name             string          `bun:"name,notnull"`
	Filter           json.RawMessage `bun:"filter,type:jsonb,nullzero"`
	Description      string          `bun:"description,notnull"`
	IsPaused         bool            `bun:"is_paused,notnull"`
	ConcurrencyLimit *int            `bun:"concurrency_limit"`
	Priority         int             `bun:"priority,notnull"`
	LastPolled       *types.DateTime `bun:"last_polled"`
	Status           string          `bun:"status,notnull"`
	WorkPoolID       uuid.UUID       `bun:"work_pool_id,type:uuid,notnull"`

	// PoolName (and, where selected, PoolType) are read with the queue
	// (a join), for work_pool_name and events.
	PoolName string `bun:"pool_name,scanonly"`
	PoolType string `bun:"pool_type,scanonly"`
}

// queueResponse is Prefect's WorkQueueResponse.
type queueResponse struct {
	ID               uuid.UUID       `json:"id"`
	Created          types.DateTime  `json:"created"`
	Updated          types.DateTime  `json:"updated"`
	Name             string          `json:"name"`
	Description      string          `json:"description"`
	IsPaused         bool            `json:"is_paused"`
	ConcurrencyLimit *int            `json:"concurrency_limit"`
	Priority         int             `json:"priority"`
	WorkPoolID       uuid.UUID       `json:"work_pool_id"`
	Filter           json.RawMessage `json:"filter"`
	LastPolled       *types.DateTime `json:"last_polled"`
	WorkPoolName     *string         `json:"work_pool_name"`
	Status           *string         `json:"status"`
	ActiveSlots      *int            `json:"active_slots"`
}

func (q *WorkQueue) response(activeSlots int) queueResponse {
	out := queueResponse{ID: q.ID, Created: q.Created, Updated: q.Updated, Name: q.Name, Description: q.Description,
		IsPaused: q.IsPaused, ConcurrencyLimit: q.ConcurrencyLimit, Priority: q.Priority, WorkPoolID: q.WorkPoolID,
		Filter: q.Filter, LastPolled: q.LastPolled}
	if len(out.Filter) == 0 {
		out.Filter = json.RawMessage("null")
	}
	if q.PoolName != "" {
		name := q.PoolName
		out.WorkPoolName = &name
	}
	s := q.Status
	out.Status = &s
	if q.ConcurrencyLimit != nil {
		out.ActiveSlots = &activeSlots
	}
	return out
}

// Worker is a worker as stored and as the API returns it (Prefect's
// WorkerResponse); Status is computed from the heartbeat when read.
type Worker struct {
	bun.BaseModel `bun:"table:worker,alias:worker"`

	ID                       uuid.UUID      `bun:"id,pk,type:uuid" json:"id"`
	Created                  types.DateTime `bun:"created,notnull" json:"created"`
	Updated                  types.DateTime `bun:"updated,notnull" json:"updated"`
	Name                     string         `bun:"name,notnull" json:"name"`
	WorkPoolID               uuid.UUID      `bun:"work_pool_id,type:uuid,notnull" json:"work_pool_id"`
	LastHeartbeatTime        types.DateTime `bun:"last_heartbeat_time,notnull" json:"last_heartbeat_time"`
	HeartbeatIntervalSeconds *int           `bun:"heartbeat_interval_seconds" json:"heartbeat_interval_seconds"`
	Status                   string         `bun:"status,notnull" json:"status"`
}
