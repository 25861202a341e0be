package actions

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/deployments"
	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/variables"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/services"
	"github.com/prefect-server/prefect-server/platform/types"
)

// harness is a real app with the executor and the events it emits.
type harness struct {
	t          *testing.T
	app        *platformtest.App
	x          *executor
	dispatcher Dispatcher
	emitted    *recordingEmitter
}

// recordingEmitter forwards events to the events module and keeps them.
type recordingEmitter struct {
	next events.Emitter
	mu   sync.Mutex
	evs  []*events.Event
}

func (r *recordingEmitter) Emit(ctx context.Context, evs ...*events.Event) error {
	r.mu.Lock()
	r.evs = append(r.evs, evs...)
	r.mu.Unlock()
	return r.next.Emit(ctx, evs...)
}

// named returns the emitted events of a name.
func (r *recordingEmitter) named(name string) []*events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*events.Event
	for _, e := range r.evs {
		if e.Event == name {
			out = append(out, e)
		}
	}
	return out
}

type servicesIn struct {
	fx.In
	All []services.Service `group:"services"`
}

func newHarness(t *testing.T, d config.Dialect) *harness { return newHarnessWith(t, d) }

// newHarnessWith starts the app with extra options (e.g. routes of a module
// this server does not have yet).
func newHarnessWith(t *testing.T, d config.Dialect, extra ...fx.Option) *harness {
	return newHarnessConfig(t, platformtest.DefaultConfig(t, d), extra...)
}

func newHarnessConfig(t *testing.T, cfg config.Config, extra ...fx.Option) *harness {
	h := &harness{t: t}
	opts := append([]fx.Option{flows.Module, runs.Module, events.Module, workpools.Module, concurrency.Module,
		deployments.Module, variables.Module, Module,
		fx.Decorate(func(e events.Emitter) events.Emitter {
			h.emitted = &recordingEmitter{next: e}
			return h.emitted
		}),
		fx.Populate(&h.dispatcher),
		fx.Invoke(func(in servicesIn) {
			for _, s := range in.All {
				if x, ok := s.(*executor); ok {
					h.x = x
				}
			}
		}),
	}, extra...)
	h.app = platformtest.NewWithConfig(t, cfg, opts...)
	if h.x == nil {
		t.Fatal("the actions service is not in the services group")
	}
	return h
}

// automation is the JSON of an automation named "auto" with an event trigger.
func automationJSON(id uuid.UUID) json.RawMessage {
	raw, _ := json.Marshal(map[string]any{"id": id, "name": "auto", "enabled": true,
		"trigger": map[string]any{"type": "event", "posture": "Reactive", "expect": []string{"x"}}})
	return raw
}

// triggered builds a TriggeredAction of one action with an optional event.
func triggered(action map[string]any, event *events.Event) TriggeredAction {
	a, _ := json.Marshal(action)
	ta := TriggeredAction{Automation: automationJSON(uuid.New()), Triggered: time.Now().UTC(),
		TriggeringLabels: map[string]string{}, Action: a}
	if event != nil {
		ta.TriggeringEvent, _ = json.Marshal(event)
	}
	return ta
}

// run executes a triggered action directly and returns its outcome event.
func (h *harness) run(ta TriggeredAction) *events.Event {
	h.t.Helper()
	data, err := json.Marshal(message{ID: uuid.New(), TriggeredAction: ta})
	if err != nil {
		h.t.Fatal(err)
	}
	inv, err := decodeInvocation(data)
	if err != nil {
		h.t.Fatal(err)
	}
	before := len(h.emitted.named("prefect.automation.action.executed")) + len(h.emitted.named("prefect.automation.action.failed"))
	if err := h.x.execute(context.Background(), inv); err != nil {
		h.t.Fatalf("execute: %v", err)
	}
	h.emitted.mu.Lock()
	defer h.emitted.mu.Unlock()
	var outcomes []*events.Event
	for _, e := range h.emitted.evs {
		if e.Event == "prefect.automation.action.executed" || e.Event == "prefect.automation.action.failed" {
			outcomes = append(outcomes, e)
		}
	}
	if len(outcomes) != before+1 {
		h.t.Fatalf("%d outcome events after the action, want %d", len(outcomes), before+1)
	}
	return outcomes[len(outcomes)-1]
}

// payload decodes an event's payload.
func payload(t *testing.T, e *events.Event) map[string]any {
	t.Helper()
	var p map[string]any
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// mustExecute checks that the action ran, and returns its payload.
func mustExecute(t *testing.T, e *events.Event) map[string]any {
	t.Helper()
	p := payload(t, e)
	if e.Event != "prefect.automation.action.executed" {
		t.Fatalf("outcome %s %v, want executed", e.Event, p)
	}
	return p
}

// mustFail checks that the action failed with reason.
func mustFail(t *testing.T, e *events.Event, reason string) map[string]any {
	t.Helper()
	p := payload(t, e)
	if e.Event != "prefect.automation.action.failed" || p["reason"] != reason {
		t.Fatalf("outcome %s %v, want failed with %q", e.Event, p, reason)
	}
	return p
}

// fixtures are objects the actions work on.
type fixtures struct {
	flowID, deploymentID, flowRunID, poolID, poolName, queueID string
}

func (h *harness) fixtures() fixtures {
	var f fixtures
	var obj struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	h.app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "etl"}, http.StatusCreated, &obj)
	f.flowID = obj.ID
	h.app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "pool-a", "type": "process"}, http.StatusCreated, &obj)
	f.poolID, f.poolName = obj.ID, obj.Name
	h.app.JSON(http.MethodPost, "/api/work_queues/", map[string]any{"name": "queue-a"}, http.StatusCreated, &obj)
	f.queueID = obj.ID
	h.app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "daily", "flow_id": f.flowID,
		"parameters": map[string]any{"who": "default", "n": 0}, "work_pool_name": "pool-a", "enforce_parameter_schema": false}, http.StatusCreated, &obj)
	f.deploymentID = obj.ID
	h.app.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": f.flowID, "name": "brave-run",
		"state": map[string]any{"type": "RUNNING", "name": "Running"}}, http.StatusCreated, &obj)
	f.flowRunID = obj.ID
	return f
}

// flowRunEvent is a flow run's state event as the runs module emits it.
func flowRunEvent(f fixtures, state string) *events.Event {
	return &events.Event{
		ID: uuid.New(), Occurred: types.Now(), Event: "prefect.flow-run." + state,
		Resource: events.L(events.LabelID, "prefect.flow-run."+f.flowRunID, events.LabelName, "brave-run",
			"prefect.state-type", "FAILED", "prefect.state-name", state, "prefect.state-message", "boom",
			"prefect.state-timestamp", time.Now().UTC().Format(time.RFC3339Nano)),
		Related: []events.Labels{
			events.L(events.LabelID, "prefect.flow."+f.flowID, events.LabelRole, "flow", events.LabelName, "etl"),
			events.L(events.LabelID, "prefect.deployment."+f.deploymentID, events.LabelRole, "deployment", events.LabelName, "daily"),
			events.L(events.LabelID, "prefect.work-pool."+f.poolID, events.LabelRole, "work-pool", events.LabelName, "pool-a"),
			events.L(events.LabelID, "prefect.work-queue."+f.queueID, events.LabelRole, "work-queue", events.LabelName, "queue-a"),
		},
		Payload: json.RawMessage(`{"count": 7}`),
	}
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// jsonEqual compares two JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// hasRelated reports whether e names resource id in role.
func hasRelated(e *events.Event, id, role string) bool {
	for _, r := range e.Related {
		if r.ID() == id && r.Role() == role {
			return true
		}
	}
	return false
}
