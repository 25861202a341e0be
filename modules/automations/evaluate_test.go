package automations

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/types"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// harness stores one automation with trigger and evaluates events against
// it as the triggers service does, returning the names of firing triggers.
type harness struct {
	t  *testing.T
	db *db.DB
	l  *loaded
}

func newHarness(t *testing.T, d config.Dialect, trigger string) *harness {
	t.Helper()
	database := dbtest.Open(t, d, migrate.Set{Module: "automations", FS: migrationsFS, Dir: "migrations"})
	body, errs := automationModel(false).validate(mustDecode(t, `{"name": "a", "actions": [], "trigger": `+trigger+`}`), []any{"body"})
	if len(errs) > 0 {
		t.Fatalf("invalid trigger %s: %+v", trigger, errs)
	}
	a := fromBody(uuid.New(), body.(*object))
	r := &repo{db: database}
	if err := r.create(context.Background(), a, nil, ""); err != nil {
		t.Fatalf("create automation: %v", err)
	}
	l, err := load(*a)
	if err != nil {
		t.Fatalf("load automation: %v", err)
	}
	return &harness{t: t, db: database, l: l}
}

func mustDecode(t *testing.T, s string) any {
	v, err := decodeJSON([]byte(s))
	if err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func (h *harness) run(fn func(ctx context.Context, x *evaluation) error) int {
	h.t.Helper()
	var fired int
	err := h.db.Tx(context.Background(), func(ctx context.Context, tx bun.Tx) error {
		x := &evaluation{b: buckets{tx: tx}, tx: tx}
		if err := fn(ctx, x); err != nil {
			return err
		}
		fired = len(x.firings)
		return nil
	})
	if err != nil {
		h.t.Fatalf("evaluate: %v", err)
	}
	return fired
}

// send evaluates an event occurring at offset seconds after t0 and returns
// how many times the automation fired.
func (h *harness) send(name, resource string, offset float64) int {
	h.t.Helper()
	e := &events.Event{ID: uuid.New(), Event: name, Occurred: types.From(t0.Add(time.Duration(offset * float64(time.Second)))),
		Resource: events.L(events.LabelID, resource), Related: []events.Labels{}, Payload: json.RawMessage("{}")}
	fired := 0
	for _, tr := range h.l.root.eventTriggers() {
		if tr.covers(e) {
			fired += h.run(func(ctx context.Context, x *evaluation) error { return x.reactive(ctx, tr, e) })
		}
	}
	return fired
}

func (h *harness) proactive(offset float64) int {
	h.t.Helper()
	fired := 0
	for _, tr := range h.l.root.eventTriggers() {
		fired += h.run(func(ctx context.Context, x *evaluation) error {
			_, err := x.proactive(ctx, tr, t0.Add(time.Duration(offset*float64(time.Second))))
			return err
		})
	}
	return fired
}

type step struct {
	event     string // "" for a proactive evaluation
	resource  string
	at        float64
	wantFired int
}

func TestBucketing(t *testing.T) {
	tests := []struct {
		name    string
		trigger string
		steps   []step
	}{
		{"threshold within a window", `{"type": "event", "posture": "Reactive", "expect": ["x"], "threshold": 3, "within": 60}`,
			[]step{{"x", "r.1", 0, 0}, {"x", "r.1", 1, 0}, {"x", "r.1", 2, 1}, {"x", "r.1", 3, 0}, {"y", "r.1", 4, 0}}},
		{"window expiry starts over", `{"type": "event", "posture": "Reactive", "expect": ["x"], "threshold": 2, "within": 10}`,
			[]step{{"x", "r.1", 0, 0}, {"x", "r.1", 20, 0}, {"x", "r.1", 25, 1}}},
		{"for_each counts each resource apart", `{"type": "event", "posture": "Reactive", "expect": ["x"], "threshold": 2, "within": 60, "for_each": ["prefect.resource.id"]}`,
			[]step{{"x", "r.a", 0, 0}, {"x", "r.b", 1, 0}, {"x", "r.a", 2, 1}, {"x", "r.b", 3, 1}}},
		{"immediate fires on every event", `{"type": "event", "posture": "Reactive", "expect": ["x.*"]}`,
			[]step{{"x.1", "r", 0, 1}, {"x.2", "r", 0, 1}, {"other", "r", 0, 0}}},
		{"match filters resources", `{"type": "event", "posture": "Reactive", "expect": ["x"], "match": {"prefect.resource.id": "r.*"}}`,
			[]step{{"x", "q.1", 0, 0}, {"x", "r.1", 0, 1}}},
		{"a negated match excludes", `{"type": "event", "posture": "Reactive", "expect": ["x"], "match": {"prefect.resource.id": "!r.skip"}}`,
			[]step{{"x", "r.skip", 0, 0}, {"x", "q.1", 0, 1}}},
		{"after opens the bucket for expect", `{"type": "event", "posture": "Reactive", "after": ["start"], "expect": ["done"], "within": 60}`,
			[]step{{"done", "r", 0, 0}, {"start", "r", 1, 0}, {"done", "r", 2, 1}, {"done", "r", 3, 0}}},
		{"proactive fires when nothing comes", `{"type": "event", "posture": "Proactive", "expect": ["beat"], "within": 10}`,
			[]step{{"", "", 0, 0}, {"", "", 5, 0}, {"", "", 11, 1}}},
		{"proactive holds while events come", `{"type": "event", "posture": "Proactive", "expect": ["beat"], "within": 10}`,
			[]step{{"", "", 0, 0}, {"beat", "r", 3, 0}, {"", "", 11, 0}}},
		{"compound all needs every child", `{"type": "compound", "require": "all", "within": 60, "triggers": [
			{"type": "event", "posture": "Reactive", "expect": ["a"]}, {"type": "event", "posture": "Reactive", "expect": ["b"]}]}`,
			[]step{{"a", "r", 0, 0}, {"a", "r", 1, 0}, {"b", "r", 2, 1}, {"b", "r", 3, 0}}},
		{"compound any fires on one child", `{"type": "compound", "require": "any", "within": 60, "triggers": [
			{"type": "event", "posture": "Reactive", "expect": ["a"]}, {"type": "event", "posture": "Reactive", "expect": ["b"]}]}`,
			[]step{{"b", "r", 0, 1}, {"a", "r", 1, 1}}},
		{"sequence needs its order", `{"type": "sequence", "within": 60, "triggers": [
			{"type": "event", "posture": "Reactive", "expect": ["a"]}, {"type": "event", "posture": "Reactive", "expect": ["b"]}]}`,
			[]step{{"b", "r", 0, 0}, {"a", "r", 1, 0}, {"b", "r", 2, 1}}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				h := newHarness(t, d, tt.trigger)
				for i, s := range tt.steps {
					var got int
					if s.event == "" {
						got = h.proactive(s.at)
					} else {
						got = h.send(s.event, s.resource, s.at)
					}
					if got != s.wantFired {
						t.Fatalf("step %d (%+v): fired %d times, want %d", i, s, got, s.wantFired)
					}
					time.Sleep(2 * time.Millisecond) // composite firings are ordered by wall-clock time
				}
			})
		}
	})
}
