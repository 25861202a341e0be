package actions

import (
	"context"
	"encoding/json"
	"time"
)

// TriggeredAction is Prefect's TriggeredAction message (same JSON field names).
type TriggeredAction struct {
	Automation       json.RawMessage   `json:"automation"`       // the automation as the API returns it
	Firing           json.RawMessage   `json:"firing,omitempty"` // Prefect's Firing, when there is one
	Triggered        time.Time         `json:"triggered"`
	TriggeringLabels map[string]string `json:"triggering_labels"`
	TriggeringEvent  json.RawMessage   `json:"triggering_event,omitempty"` // the event (events module JSON)
	Action           json.RawMessage   `json:"action"`
	ActionIndex      int               `json:"action_index"`
}

// Dispatcher queues triggered actions for execution (durably through the
// broker, topic "actions").
type Dispatcher interface {
	Dispatch(ctx context.Context, a TriggeredAction) error
}
