package automations

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// firing is Prefect's Firing: one instance of a trigger firing.
type firing struct {
	ID                uuid.UUID         `json:"id"`
	Trigger           json.RawMessage   `json:"trigger"`
	TriggerStates     []string          `json:"trigger_states"`
	Triggered         types.DateTime    `json:"triggered"`
	TriggeringLabels  map[string]string `json:"triggering_labels"`
	TriggeringFirings []*firing         `json:"triggering_firings"`
	TriggeringEvent   *events.Event     `json:"triggering_event"`
	TriggeringValue   any               `json:"triggering_value"`
	trigger           *trigger
}

func newFiring(t *trigger, labels map[string]string, e *events.Event, children []*firing) *firing {
	if children == nil {
		children = []*firing{}
	}
	return &firing{ID: newEventUUID(), Trigger: t.raw, TriggerStates: []string{"Triggered"}, Triggered: types.Now(),
		TriggeringLabels: labels, TriggeringFirings: children, TriggeringEvent: e, trigger: t}
}

// newEventUUID is a time-ordered id, as Prefect's uuid7.
func newEventUUID() uuid.UUID {
	if id, err := uuid.NewV7(); err == nil {
		return id
	}
	return uuid.New()
}

// fire hands a firing to its parent: the automation acts (after the
// commit), or a composite trigger counts it (Prefect's fire).
func (ev *evaluation) fire(ctx context.Context, f *firing) error {
	parent := f.trigger.parent
	if parent == nil {
		ev.firings = append(ev.firings, f)
		return nil
	}
	return ev.composite(ctx, parent, f)
}

// childFiring is a composite trigger's record of a child that fired
// (Prefect's composite_trigger_child_firing).
type childFiring struct {
	bun.BaseModel `bun:"table:composite_trigger_child_firing,alias:ctcf"`

	ID              uuid.UUID       `bun:"id,pk,type:uuid"`
	Created         types.DateTime  `bun:"created,notnull"`
	Updated         types.DateTime  `bun:"updated,notnull"`
	AutomationID    uuid.UUID       `bun:"automation_id,notnull,type:uuid"`
	ParentTriggerID uuid.UUID       `bun:"parent_trigger_id,notnull,type:uuid"`
	ChildTriggerID  uuid.UUID       `bun:"child_trigger_id,notnull,type:uuid"`
	ChildFiringID   uuid.UUID       `bun:"child_firing_id,notnull,type:uuid"`
	ChildFiredAt    *types.DateTime `bun:"child_fired_at"`
	ChildFiring     json.RawMessage `bun:"child_firing,notnull"`
}

// composite is Prefect's evaluate_composite_trigger: record the child's
// firing and fire the composite once enough children (in order, for a
// sequence) fired within its window.
func (ev *evaluation) composite(ctx context.Context, parent *trigger, f *firing) error {
	if parent.expectedFirings() == 1 {
		return ev.fire(ctx, newFiring(parent, map[string]string{}, f.TriggeringEvent, []*firing{f}))
	}
	automationID := parent.owner.automation.ID
	if parent.Within != nil {
		cutoff := f.Triggered.Add(-parent.within())
		if _, err := ev.tx.NewDelete().Model((*childFiring)(nil)).Where("automation_id = ?", automationID).
			Where("parent_trigger_id = ?", parent.ID).Where("child_fired_at < ?", types.From(cutoff)).Exec(ctx); err != nil {
			return fmt.Errorf("clear old child firings: %w", db.Translate(err))
		}
	}
	raw, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode child firing: %w", err)
	}
	now := types.Now()
	row := &childFiring{ID: uuid.New(), Created: now, Updated: now, AutomationID: automationID, ParentTriggerID: parent.ID,
		ChildTriggerID: f.trigger.ID, ChildFiringID: f.ID, ChildFiredAt: &f.Triggered, ChildFiring: raw}
	if _, err := ev.tx.NewInsert().Model(row).On("CONFLICT (automation_id, parent_trigger_id, child_trigger_id) DO UPDATE").
		Set("child_firing_id = EXCLUDED.child_firing_id").Set("child_fired_at = EXCLUDED.child_fired_at").
		Set("child_firing = EXCLUDED.child_firing").Set("updated = EXCLUDED.updated").Exec(ctx); err != nil {
		return fmt.Errorf("record child firing: %w", db.Translate(err))
	}
	var rows []childFiring
	if err := ev.tx.NewSelect().Model(&rows).Where("automation_id = ?", automationID).
		Where("parent_trigger_id = ?", parent.ID).Scan(ctx); err != nil {
		return fmt.Errorf("read child firings: %w", db.Translate(err))
	}
	children := make([]*firing, 0, len(rows))
	ids := make([]uuid.UUID, 0, len(rows))
	present := false
	for _, r := range rows {
		var c firing
		if err := json.Unmarshal(r.ChildFiring, &c); err != nil {
			return fmt.Errorf("decode child firing %s: %w", r.ChildFiringID, err)
		}
		c.trigger = parent.child(r.ChildTriggerID)
		children = append(children, &c)
		ids = append(ids, r.ChildFiringID)
		present = present || r.ChildFiringID == f.ID
	}
	if !present || !parent.readyToFire(children) {
		return nil
	}
	res, err := ev.tx.NewDelete().Model((*childFiring)(nil)).Where("automation_id = ?", automationID).
		Where("parent_trigger_id = ?", parent.ID).Where("child_firing_id IN (?)", bun.In(ids)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("clear child firings: %w", db.Translate(err))
	}
	if n, _ := res.RowsAffected(); int(n) != len(ids) {
		return nil // another evaluator claimed them
	}
	return ev.fire(ctx, newFiring(parent, map[string]string{}, f.TriggeringEvent, children))
}

// child finds a direct child trigger by id.
func (t *trigger) child(id uuid.UUID) *trigger {
	for _, c := range t.Triggers {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// expectedFirings is CompositeTrigger.num_expected_firings.
func (t *trigger) expectedFirings() int {
	if t.Type == "sequence" {
		return len(t.Triggers)
	}
	var require any
	_ = json.Unmarshal(t.Require, &require)
	switch r := require.(type) {
	case string:
		if r == "any" {
			return 1
		}
		if n, err := strconv.Atoi(r); err == nil {
			return n
		}
		return len(t.Triggers)
	case float64:
		return int(r)
	}
	return len(t.Triggers)
}

// readyToFire is the composite's ready_to_fire: enough children for a
// compound trigger, every child in its order for a sequence.
func (t *trigger) readyToFire(children []*firing) bool {
	if t.Type != "sequence" {
		return len(children) >= t.expectedFirings()
	}
	sorted := append([]*firing(nil), children...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Triggered.Before(sorted[j].Triggered.Time) })
	if len(sorted) != len(t.Triggers) {
		return false
	}
	for i, c := range sorted {
		if c.trigger == nil || c.trigger.ID != t.Triggers[i].ID {
			return false
		}
	}
	return true
}

// stateChangeEvent is Prefect's create_automation_state_change_event for
// the Triggered state.
func stateChangeEvent(f *firing) *events.Event {
	a := f.trigger.owner.automation
	resource := events.L(events.LabelID, events.ResourceID("automation", a.ID), events.LabelName, a.Name)
	if f.trigger.Type == "event" && f.trigger.Posture != "" {
		resource.Set("prefect.posture", f.trigger.Posture)
	}
	related := []events.Labels{}
	if f.TriggeringEvent != nil {
		related = append(related, events.L(events.LabelID, "prefect.event."+f.TriggeringEvent.ID.String(),
			events.LabelRole, "triggering-event"))
	}
	return &events.Event{
		Occurred: f.Triggered,
		Event:    "prefect.automation.triggered",
		Resource: resource,
		Related:  related,
		Payload:  events.Payload(map[string]any{"triggering_labels": f.TriggeringLabels, "triggering_event": f.TriggeringEvent}),
		ID:       newEventUUID(),
	}
}
