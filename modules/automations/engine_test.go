package automations

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/types"
)

// recorder stands in for the events module and the actions executor.
type recorder struct {
	mu      sync.Mutex
	emitted []*events.Event
	actions []TriggeredAction
}

func (r *recorder) Emit(_ context.Context, evs ...*events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.emitted = append(r.emitted, evs...)
	return nil
}

func (r *recorder) Dispatch(_ context.Context, a TriggeredAction) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.actions = append(r.actions, a)
	return nil
}

func eventMessage(t *testing.T, name, resource string) (broker.Message, *events.Event) {
	e := &events.Event{ID: uuid.New(), Event: name, Occurred: types.Now(), Received: types.Now(),
		Resource: events.L(events.LabelID, resource), Related: []events.Labels{}, Payload: json.RawMessage(`{}`)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("encode event: %v", err)
	}
	return broker.Message{ID: "1", Data: b}, e
}

func TestEngineActsOnFirings(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		ctx := context.Background()
		database := dbtest.Open(t, d, migrate.Set{Module: "automations", FS: migrationsFS, Dir: "migrations"})
		r := &repo{db: database}
		rec := &recorder{}
		e := &engine{repo: r, db: database, emitter: rec, dispatcher: rec, log: zaptest.NewLogger(t),
			gen: ^uint64(0), next: map[uuid.UUID]time.Time{}}

		body, errs := automationModel(false).validate(mustDecode(t, `{"name": "watch", "trigger": {"type": "event",
			"posture": "Reactive", "expect": ["x.done"], "for_each": ["prefect.resource.id"]},
			"actions": [{"type": "do-nothing"}], "actions_on_trigger": [{"type": "cancel-flow-run"}]}`), []any{"body"})
		if len(errs) > 0 {
			t.Fatalf("invalid automation: %+v", errs)
		}
		a := fromBody(uuid.New(), body.(*object))
		a.Enabled = false
		if err := r.create(ctx, a, nil, ""); err != nil {
			t.Fatalf("create: %v", err)
		}
		msg, _ := eventMessage(t, "x.done", "thing.1")
		if err := e.handle(ctx, []broker.Message{msg}); err != nil || len(rec.emitted) != 0 {
			t.Fatalf("a disabled automation fired: %v, %d events", err, len(rec.emitted))
		}

		// Enabling it through the repository applies to the next event.
		if _, err := r.setEnabled(ctx, a.ID, true); err != nil {
			t.Fatalf("enable: %v", err)
		}
		msg, ev := eventMessage(t, "x.done", "thing.1")
		if err := e.handle(ctx, []broker.Message{msg}); err != nil {
			t.Fatalf("handle: %v", err)
		}
		if len(rec.emitted) != 1 || len(rec.actions) != 2 {
			t.Fatalf("emitted %d events and %d actions, want 1 and 2", len(rec.emitted), len(rec.actions))
		}
		state := rec.emitted[0]
		if state.Event != "prefect.automation.triggered" || state.Resource.ID() != "prefect.automation."+a.ID.String() ||
			len(state.Related) != 1 || state.Related[0].ID() != "prefect.event."+ev.ID.String() {
			t.Fatalf("state change event = %+v", state)
		}
		if posture, _ := state.Resource.Get("prefect.posture"); posture != "Reactive" {
			t.Fatalf("posture label = %q", posture)
		}
		first, second := rec.actions[0], rec.actions[1]
		if first.ActionIndex != 0 || second.ActionIndex != 1 || first.TriggeringLabels["prefect.resource.id"] != "thing.1" {
			t.Fatalf("actions = %+v", rec.actions)
		}
		var firstEvent, secondEvent events.Event
		_ = json.Unmarshal(first.TriggeringEvent, &firstEvent)
		_ = json.Unmarshal(second.TriggeringEvent, &secondEvent)
		if firstEvent.ID != ev.ID || secondEvent.ID != state.ID {
			t.Fatalf("triggering events %s and %s, want %s and %s", firstEvent.ID, secondEvent.ID, ev.ID, state.ID)
		}
		var automation struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(first.Automation, &automation); err != nil || automation.ID != a.ID.String() {
			t.Fatalf("action's automation = %s", first.Automation)
		}
	})
}
