package actions

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/types"
)

// emitOutcome emits Prefect's pair of events for a finished action:
// prefect.automation.action.triggered (at the time the action was
// triggered, following the triggering event when that is recent) and then
// prefect.automation.action.executed or .failed (now, following the first).
func (x *executor) emitOutcome(ctx context.Context, inv *invocation, outcome, reason string) error {
	resource := events.L(events.LabelID, "prefect.automation."+inv.automation.ID.String(),
		events.LabelName, inv.automation.Name, "prefect.trigger-type", inv.automation.Trigger.Type)
	if inv.automation.Trigger.Type == "event" {
		resource.Set("prefect.posture", inv.automation.Trigger.Posture)
	}
	related := append([]events.Labels{}, inv.related...)
	var follows *uuid.UUID
	if e := inv.event; e != nil {
		related = append(related, events.L(events.LabelID, "prefect.event."+e.ID.String(), events.LabelRole, "triggering-event"))
		if !e.Occurred.IsZero() && absDuration(inv.msg.Triggered.Sub(e.Occurred.Time)) < tightTiming {
			id := e.ID
			follows = &id
		}
	}
	details := map[string]any{
		"action_index": inv.msg.ActionIndex,
		"action_type":  inv.spec.Type,
		"invocation":   inv.msg.ID.String(),
	}
	triggeredID, outcomeID := newEventID(), newEventID()
	triggered := &events.Event{
		ID: triggeredID, Occurred: types.From(inv.msg.Triggered), Event: "prefect.automation.action.triggered",
		Resource: resource, Related: related, Payload: events.Payload(details), Follows: follows,
	}
	result := map[string]any{}
	for k, v := range details {
		result[k] = v
	}
	if outcome == "prefect.automation.action.failed" {
		result["reason"] = reason
	}
	for k, v := range inv.details {
		result[k] = v
	}
	done := &events.Event{
		ID: outcomeID, Occurred: types.Now(), Event: outcome,
		Resource: resource, Related: related, Payload: events.Payload(result), Follows: &triggeredID,
	}
	if err := x.emitter.Emit(ctx, triggered, done); err != nil {
		return fmt.Errorf("emit %s: %w", outcome, err)
	}
	return nil
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// newEventID is a time-ordered id, as Prefect's uuid7.
func newEventID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}
