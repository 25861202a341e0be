package automations

import (
	"context"
	"encoding/json"
	"time"
)

// TriggeredAction is Prefect's TriggeredAction message, the same fields and
// JSON names as actions.TriggeredAction of the actions executor
// (modules/automations/actions), so that one converts to the other:
// actions.TriggeredAction(a).
type TriggeredAction struct {
	Automation       json.RawMessage   `json:"automation"`       // the automation as the API returns it
	Firing           json.RawMessage   `json:"firing,omitempty"` // Prefect's Firing
	Triggered        time.Time         `json:"triggered"`
	TriggeringLabels map[string]string `json:"triggering_labels"`
	TriggeringEvent  json.RawMessage   `json:"triggering_event,omitempty"` // the event (events module JSON)
	Action           json.RawMessage   `json:"action"`
	ActionIndex      int               `json:"action_index"`
}

// Dispatcher queues triggered actions for execution. The actions executor
// provides it; without one (a build without the executor) the triggers
// service still emits prefect.automation.triggered but runs no action.
type Dispatcher interface {
	Dispatch(ctx context.Context, a TriggeredAction) error
}
