package concurrency_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// orchestration is a set_state response.
type orchestration struct {
	Status  string `json:"status"`
	State   struct{ Type, Name string }
	Details struct {
		Type         string `json:"type"`
		Reason       string `json:"reason"`
		DelaySeconds int    `json:"delay_seconds"`
	} `json:"details"`
}

// withRuns starts the concurrency, flows and runs modules and a running
// flow run; taskRun creates task runs in it.
func withRuns(t *testing.T, e env, setting map[string]string) (a *platformtest.App, taskRun func(body map[string]any) string) {
	t.Helper()
	a = app(t, e, setting, flows.Module, runs.Module)
	var f, fr struct{ ID string }
	a.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &f)
	a.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": f.ID, "state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, &fr)
	n := 0
	return a, func(body map[string]any) string {
		t.Helper()
		n++
		body["flow_run_id"], body["task_key"], body["dynamic_key"] = fr.ID, "k", fmt.Sprint(n)
		var tr struct{ ID string }
		a.JSON(http.MethodPost, "/api/task_runs/", body, http.StatusCreated, &tr)
		return tr.ID
	}
}

func setState(t *testing.T, a *platformtest.App, id string, body map[string]any) orchestration {
	t.Helper()
	status, raw := a.Do(http.MethodPost, "/api/task_runs/"+id+"/set_state", body)
	var got orchestration
	if (status != http.StatusOK && status != http.StatusCreated) || decode(raw, &got) != nil {
		t.Fatalf("set_state %v: %d %s", body, status, raw)
	}
	return got
}

func to(typ string) map[string]any { return map[string]any{"state": map[string]any{"type": typ}} }

func TestTaskRunsTakeTagSlots(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a, taskRun := withRuns(t, e, nil)
		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "db", "concurrency_limit": 1}, http.StatusCreated, nil)
		first := taskRun(map[string]any{"tags": []string{"db", "untracked"}})
		second := taskRun(map[string]any{"tags": []string{"db"}})

		if got := setState(t, a, first, to("RUNNING")); got.Status != "ACCEPT" || got.State.Type != "RUNNING" {
			t.Fatalf("first RUNNING: %+v", got)
		}
		if g, n := readTag(t, a, "db"), read(t, a, "tag:db").ActiveSlots; n != 1 || len(g.ActiveSlots) != 1 || g.ActiveSlots[0] != first {
			t.Fatalf("after first RUNNING: %d slots, holders %v", n, g.ActiveSlots)
		}
		// The default average occupancy (2 s) under the 10 s cap, jittered.
		got := setState(t, a, second, to("RUNNING"))
		if got.Status != "WAIT" || got.Details.Reason != "Concurrency limit reached for tags: db" ||
			got.Details.DelaySeconds < 1 || got.Details.DelaySeconds > 3 {
			t.Fatalf("second RUNNING: %+v", got)
		}
		if n := read(t, a, "tag:db").ActiveSlots; n != 1 {
			t.Fatalf("after WAIT: %d slots, want 1", n)
		}

		if got := setState(t, a, first, to("COMPLETED")); got.Status != "ACCEPT" {
			t.Fatalf("first COMPLETED: %+v", got)
		}
		if g, n := readTag(t, a, "db"), read(t, a, "tag:db").ActiveSlots; n != 0 || len(g.ActiveSlots) != 0 {
			t.Fatalf("after COMPLETED: %d slots, holders %v", n, g.ActiveSlots)
		}
		if got := setState(t, a, second, to("RUNNING")); got.Status != "ACCEPT" {
			t.Fatalf("second RUNNING again: %+v", got)
		}
		// A forced transition releases too (MinimalTaskPolicy).
		if got := setState(t, a, second, map[string]any{"state": map[string]any{"type": "CRASHED"}, "force": true}); got.Status != "ACCEPT" {
			t.Fatalf("second CRASHED: %+v", got)
		}
		if n := read(t, a, "tag:db").ActiveSlots; n != 0 {
			t.Fatalf("after forced CRASHED: %d slots, want 0", n)
		}

		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "db", "concurrency_limit": 0}, http.StatusOK, nil)
		third := taskRun(map[string]any{"tags": []string{"db"}})
		got = setState(t, a, third, to("RUNNING"))
		if got.Status != "ABORT" || got.Details.Reason != `The concurrency limit on tag "db" is 0 and will deadlock if the task tries to run again.` {
			t.Fatalf("RUNNING with limit 0: %+v", got)
		}
		if n := read(t, a, "tag:db").ActiveSlots; n != 0 {
			t.Fatalf("after ABORT: %d slots, want 0", n)
		}
	})
}

func TestTaskRunSlotsFollowLaterRules(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a, taskRun := withRuns(t, e, map[string]string{"PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS": "1"})
		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "db", "concurrency_limit": 1}, http.StatusCreated, nil)

		// WaitForScheduledTime delays after the slot was taken: it is given back.
		later := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
		scheduled := taskRun(map[string]any{"tags": []string{"db"},
			"state": map[string]any{"type": "SCHEDULED", "state_details": map[string]any{"scheduled_time": later}}})
		if got := setState(t, a, scheduled, to("RUNNING")); got.Status != "WAIT" {
			t.Fatalf("RUNNING before its time: %+v", got)
		}
		if n := read(t, a, "tag:db").ActiveSlots; n != 0 {
			t.Fatalf("after a later rule delayed: %d slots, want 0", n)
		}

		// RetryFailedTasks turns FAILED into AwaitingRetry: the slot is given back.
		retried := taskRun(map[string]any{"tags": []string{"db"}, "empirical_policy": map[string]any{"retries": 1, "retry_delay": 0}})
		setState(t, a, retried, to("RUNNING"))
		other := taskRun(map[string]any{"tags": []string{"db"}})
		if got := setState(t, a, other, to("RUNNING")); got.Status != "WAIT" || got.Details.DelaySeconds != 1 {
			t.Fatalf("RUNNING on a full limit with a 1 s cap: %+v", got)
		}
		if got := setState(t, a, retried, to("FAILED")); got.Status != "REJECT" || got.State.Name != "AwaitingRetry" {
			t.Fatalf("FAILED with retries: %+v", got)
		}
		if n := read(t, a, "tag:db").ActiveSlots; n != 0 {
			t.Fatalf("after AwaitingRetry: %d slots, want 0", n)
		}
		if got := setState(t, a, other, to("RUNNING")); got.Status != "ACCEPT" {
			t.Fatalf("RUNNING after the retry released: %+v", got)
		}
	})
}
