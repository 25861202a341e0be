package runs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/services"
)

// runService runs the named service of the app until the test ends.
func runService(t *testing.T, name string) fx.Option {
	type in struct {
		fx.In
		All []services.Service `group:"services"`
	}
	return fx.Invoke(func(p in) {
		for _, s := range p.All {
			if s.Name() != name {
				continue
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.Run(ctx) }()
			t.Cleanup(func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("%s: %v", name, err)
				}
			})
			return
		}
		t.Fatalf("no %s service", name)
	})
}

// recorderApp is the runs module with the events module and a running
// task_run_recorder; b publishes straight to the broker.
func recorderApp(t *testing.T, d config.Dialect) (*platformtest.App, broker.Broker) {
	var b broker.Broker
	app := platformtest.New(t, d, flows.Module, events.Module, runs.Module, fx.Populate(&b), runService(t, "task_run_recorder"))
	return app, b
}

// taskRunEvent is the event the Prefect client emits for a task run state
// (emit_task_run_state_change_event).
type taskRunEvent struct {
	id, taskRunID, flowRunID uuid.UUID
	typ, name, dynamicKey    string
	at                       time.Time
	runCount                 int
	client                   bool
}

func (e taskRunEvent) json() map[string]any {
	taskRun := map[string]any{
		"name": "double-" + e.dynamicKey, "task_key": "double-abc", "dynamic_key": e.dynamicKey, "flow_run_run_count": 1,
		"empirical_policy": map[string]any{"max_retries": 0, "retry_delay_seconds": 0, "retries": 0},
		"tags":             []string{"t"}, "labels": map[string]any{}, "run_count": e.runCount, "total_run_time": 0,
		"task_inputs": map[string]any{"x": []any{}}, "expected_start_time": "2026-01-01T00:00:00Z",
	}
	if e.typ != "PENDING" {
		taskRun["start_time"] = "2026-01-01T00:00:01Z"
	}
	if e.typ == "COMPLETED" {
		taskRun["end_time"] = "2026-01-01T00:00:02Z"
	}
	resource := map[string]any{"prefect.resource.id": "prefect.task-run." + e.taskRunID.String(), "prefect.resource.name": "double-0",
		"prefect.state-type": e.typ, "prefect.state-name": e.name}
	if e.client {
		resource["prefect.orchestration"] = "client"
	}
	return map[string]any{
		"id": e.id, "occurred": e.at.Format(time.RFC3339Nano), "event": "prefect.task-run." + e.name,
		"resource": resource,
		"related": []any{
			map[string]any{"prefect.resource.id": "prefect.flow-run." + e.flowRunID.String(), "prefect.resource.role": "flow-run"},
			map[string]any{"prefect.resource.id": "prefect.tag.t", "prefect.resource.role": "tag"},
		},
		"payload": map[string]any{
			"intended": map[string]any{"from": nil, "to": e.typ},
			"validated_state": map[string]any{"type": e.typ, "name": e.name, "message": "",
				"state_details": map[string]any{"untrackable_result": false}, "data": nil},
			"task_run": taskRun,
		},
	}
}

// lifecycle is a task run's three states, a second apart.
func lifecycle(flowRunID uuid.UUID, dynamicKey string, at time.Time) []taskRunEvent {
	run := uuid.New()
	steps := []struct{ typ, name string }{{"PENDING", "Pending"}, {"RUNNING", "Running"}, {"COMPLETED", "Completed"}}
	out := make([]taskRunEvent, len(steps))
	for i, s := range steps {
		out[i] = taskRunEvent{id: uuid.New(), taskRunID: run, flowRunID: flowRunID, typ: s.typ, name: s.name, dynamicKey: dynamicKey,
			at: at.Add(time.Duration(i) * time.Second), runCount: min(i, 1), client: true}
	}
	return out
}

// publish sends events over the events API, as the client does.
func publish(t *testing.T, app *platformtest.App, evs ...taskRunEvent) {
	t.Helper()
	body := make([]any, len(evs))
	for i, e := range evs {
		body[i] = e.json()
	}
	app.JSON(http.MethodPost, "/api/events", body, http.StatusNoContent, nil)
}

// redeliver puts events on the broker again, past the API's deduplication.
func redeliver(t *testing.T, b broker.Broker, evs ...taskRunEvent) {
	t.Helper()
	for _, e := range evs {
		m := e.json()
		m["received"] = time.Now().UTC().Format(time.RFC3339Nano)
		data, _ := json.Marshal(m)
		msg := broker.Message{Data: data, Attributes: map[string]string{"id": e.id.String(), "event": m["event"].(string)}}
		if err := b.Publish(context.Background(), events.Topic, msg); err != nil {
			t.Fatalf("publish: %v", err)
		}
	}
}

type taskRun struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	FlowRunID string  `json:"flow_run_id"`
	TaskKey   string  `json:"task_key"`
	RunCount  int     `json:"run_count"`
	StateID   string  `json:"state_id"`
	StateType *string `json:"state_type"`
	StartTime *string `json:"start_time"`
	EndTime   *string `json:"end_time"`
	State     *state  `json:"state"`
}

// recorded waits until the task run has want states, then returns it and
// its history.
func recorded(t *testing.T, app *platformtest.App, id uuid.UUID, want int) (taskRun, []state) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var states []state
		status, raw := app.Do(http.MethodGet, "/api/task_run_states/?task_run_id="+id.String(), nil)
		if status == http.StatusOK {
			if err := json.Unmarshal(raw, &states); err != nil {
				t.Fatalf("states: %v", err)
			}
		}
		if len(states) >= want {
			var tr taskRun
			app.JSON(http.MethodGet, "/api/task_runs/"+id.String(), nil, http.StatusOK, &tr)
			return tr, states
		}
		if time.Now().After(deadline) {
			t.Fatalf("task run %s: %d states recorded, want %d", id, len(states), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func historyOf(states []state) string {
	out := ""
	for _, s := range states {
		out += fmt.Sprintf("%s/%s ", s.Type, s.ID)
	}
	return out
}

// checkCompleted: the run is as the newest event says, with every state.
func checkCompleted(t *testing.T, tr taskRun, states []state, evs []taskRunEvent) {
	t.Helper()
	last := evs[len(evs)-1]
	if tr.State == nil || tr.State.Type != "COMPLETED" || tr.StateID != last.id.String() || tr.RunCount != 1 ||
		tr.EndTime == nil || tr.StartTime == nil || tr.FlowRunID != last.flowRunID.String() || tr.TaskKey != "double-abc" {
		t.Fatalf("task run = %+v (state %+v), want it COMPLETED as the last event says", tr, tr.State)
	}
	want := ""
	for _, e := range evs {
		want += fmt.Sprintf("%s/%s ", e.typ, e.id)
	}
	if got := historyOf(states); got != want {
		t.Fatalf("history = %s\nwant      %s", got, want)
	}
	for _, s := range states {
		if s.StateDetails["task_run_id"] != tr.ID || s.StateDetails["flow_run_id"] != tr.FlowRunID {
			t.Fatalf("state details %v: want the task and flow run ids", s.StateDetails)
		}
	}
}

func TestRecorderBuildsTaskRunsFromEvents(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app, b := recorderApp(t, d)
		fr := newFlowRun(t, app, map[string]any{})
		flowRunID := uuid.MustParse(fr.ID)
		at := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)

		inOrder := lifecycle(flowRunID, "0", at)
		publish(t, app, inOrder...)
		tr, states := recorded(t, app, inOrder[0].taskRunID, 3)
		checkCompleted(t, tr, states, inOrder)

		// Newest first: the first event makes the run, the older ones
		// only add to its history.
		reversed := lifecycle(flowRunID, "1", at)
		publish(t, app, reversed[2])
		if tr, _ := recorded(t, app, reversed[2].taskRunID, 1); tr.State == nil || tr.State.Type != "COMPLETED" {
			t.Fatalf("after the last event alone: %+v", tr)
		}
		publish(t, app, reversed[1], reversed[0])
		tr, states = recorded(t, app, reversed[0].taskRunID, 3)
		checkCompleted(t, tr, states, reversed)

		// Redelivered events, even with another payload, change nothing;
		// neither does a task-run event not reported by a client.
		dups := append([]taskRunEvent{}, inOrder...)
		for i := range dups {
			dups[i].runCount = 7
		}
		redeliver(t, b, dups...)
		server := lifecycle(flowRunID, "2", at)[1]
		server.client = false
		publish(t, app, server)
		sentinel := lifecycle(flowRunID, "3", at)
		publish(t, app, sentinel...)
		recorded(t, app, sentinel[0].taskRunID, 3) // one consumer: everything before it is handled
		tr, states = recorded(t, app, inOrder[0].taskRunID, 3)
		checkCompleted(t, tr, states, inOrder)
		if status, _ := app.Do(http.MethodGet, "/api/task_runs/"+server.taskRunID.String(), nil); status != http.StatusNotFound {
			t.Fatalf("a non-client event made a task run (status %d)", status)
		}
		var count int
		app.JSON(http.MethodPost, "/api/task_runs/count", map[string]any{}, http.StatusOK, &count)
		if count != 3 {
			t.Fatalf("%d task runs, want 3", count)
		}
	})
}

// TestRecorderKeepsTheRunsID: a task run the API made keeps its id when
// events for its (flow run, task key, dynamic key) carry another one.
func TestRecorderKeepsTheRunsID(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app, _ := recorderApp(t, d)
		fr := newFlowRun(t, app, map[string]any{})
		var made taskRun
		app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"flow_run_id": fr.ID, "task_key": "double-abc",
			"dynamic_key": "0", "name": "made"}, http.StatusCreated, &made)
		evs := lifecycle(uuid.MustParse(fr.ID), "0", time.Now().UTC().Add(time.Second))
		publish(t, app, evs...)
		tr, states := recorded(t, app, uuid.MustParse(made.ID), 4)
		if tr.State == nil || tr.State.Type != "COMPLETED" || tr.Name != "double-0" || len(states) != 4 {
			t.Fatalf("task run %+v with %d states: want the API's run COMPLETED by the events", tr, len(states))
		}
		if status, _ := app.Do(http.MethodGet, "/api/task_runs/"+evs[0].taskRunID.String(), nil); status != http.StatusNotFound {
			t.Fatalf("the events' id made a second task run (status %d)", status)
		}
	})
}
