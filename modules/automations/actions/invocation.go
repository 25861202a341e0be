package actions

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/events"
)

// automationInfo is what an action needs of its automation.
type automationInfo struct {
	ID      uuid.UUID `json:"id"`
	Name    string    `json:"name"`
	Trigger struct {
		Type    string `json:"type"`
		Posture string `json:"posture"`
	} `json:"trigger"`
}

// firingInfo is what the executor needs of a Firing.
type firingInfo struct {
	ID uuid.UUID `json:"id"`
}

// invocation is one triggered action being carried out: the decoded message
// and what the action adds for its executed or failed event.
type invocation struct {
	msg        message
	automation automationInfo
	firingID   uuid.UUID
	event      *events.Event // the triggering event, nil for none
	spec       actionSpec

	// related are the resources the action touched (Prefect's
	// _resulting_related_resources) and details its result details.
	related []events.Labels
	details map[string]any
}

// decodeInvocation reads a broker message. A message that cannot be read
// is an error for good: delivering it again cannot help.
func decodeInvocation(data []byte) (*invocation, error) {
	inv := &invocation{details: map[string]any{}}
	if err := json.Unmarshal(data, &inv.msg); err != nil {
		return nil, fmt.Errorf("decode triggered action: %w", err)
	}
	if err := json.Unmarshal(inv.msg.Automation, &inv.automation); err != nil {
		return nil, fmt.Errorf("decode triggered action's automation: %w", err)
	}
	if err := json.Unmarshal(inv.msg.Action, &inv.spec); err != nil {
		return nil, fmt.Errorf("decode triggered action's action: %w", err)
	}
	if isJSONObject(inv.msg.Firing) {
		var f firingInfo
		if err := json.Unmarshal(inv.msg.Firing, &f); err != nil {
			return nil, fmt.Errorf("decode triggered action's firing: %w", err)
		}
		inv.firingID = f.ID
	}
	if isJSONObject(inv.msg.TriggeringEvent) {
		var e events.Event
		if err := json.Unmarshal(inv.msg.TriggeringEvent, &e); err != nil {
			return nil, fmt.Errorf("decode triggered action's event: %w", err)
		}
		inv.event = &e
	}
	if inv.msg.ID == uuid.Nil {
		inv.msg.ID = uuid.New()
	}
	return inv, nil
}

func isJSONObject(raw json.RawMessage) bool {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// dedupKey identifies a triggered action across deliveries: its firing and
// index when it has a firing, else its invocation id.
func (inv *invocation) dedupKey() string {
	if inv.firingID != uuid.Nil {
		return fmt.Sprintf("%s/%d", inv.firingID, inv.msg.ActionIndex)
	}
	return inv.msg.ID.String()
}

// headers are sent with every API request of the action.
func (inv *invocation) headers() http.Header {
	return automationHeaders(inv.automation.ID.String(), inv.automation.Name)
}

// idempotencyKey is Prefect's TriggeredAction.idempotency_key.
func (inv *invocation) idempotencyKey() string {
	return fmt.Sprintf("automation %s, action %d, invocation %s", inv.automation.ID, inv.msg.ActionIndex, inv.msg.ID)
}

// target records the resource an action acts on.
func (inv *invocation) target(kind string, id uuid.UUID, name string) {
	l := events.L(events.LabelID, events.ResourceID(kind, id), events.LabelRole, "target")
	if name != "" {
		l.Set(events.LabelName, name)
	}
	inv.related = append(inv.related, l)
}

// involvedResources are the triggering event's resource then its related
// resources (Prefect's Event.involved_resources).
func (inv *invocation) involvedResources() []events.Labels {
	if inv.event == nil {
		return nil
	}
	return append([]events.Labels{inv.event.Resource}, inv.event.Related...)
}

// firstIDOfKind is the id of the event's first involved resource of kind
// (e.g. "prefect.deployment"), as Prefect's _id_of_first_resource_of_kind:
// only the first resource of the kind counts, even when its id is not a UUID.
func (inv *invocation) firstIDOfKind(kind string) (uuid.UUID, bool) {
	for _, r := range inv.involvedResources() {
		k, id := splitResourceID(r.ID())
		if k != kind {
			continue
		}
		u, err := uuid.Parse(id)
		return u, err == nil
	}
	return uuid.Nil, false
}

// splitResourceID splits "prefect.flow-run.<id>" at its last dot.
func splitResourceID(rid string) (kind, id string) {
	for i := len(rid) - 1; i >= 0; i-- {
		if rid[i] == '.' {
			return rid[:i], rid[i+1:]
		}
	}
	return "", rid
}

// idFromResourceID is Prefect's _id_from_resource_id.
func idFromResourceID(rid, kind string) (uuid.UUID, bool) {
	k, id := splitResourceID(rid)
	if k != kind {
		return uuid.Nil, false
	}
	u, err := uuid.Parse(id)
	return u, err == nil
}

// tightTiming is how close the triggering event must be for the action's
// events to follow it (Prefect's TIGHT_TIMING).
const tightTiming = 5 * time.Minute
