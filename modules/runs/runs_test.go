package runs_test

import (
	"net/http"
	"testing"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/logs"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

type state struct {
	ID           string         `json:"id"`
	Type         string         `json:"type"`
	Name         string         `json:"name"`
	StateDetails map[string]any `json:"state_details"`
	Message      *string        `json:"message"`
}

type run struct {
	ID              string            `json:"id"`
	Name            string            `json:"name"`
	FlowID          string            `json:"flow_id"`
	RunCount        int               `json:"run_count"`
	StateType       *string           `json:"state_type"`
	StartTime       *string           `json:"start_time"`
	EndTime         *string           `json:"end_time"`
	ParentTaskRunID *string           `json:"parent_task_run_id"`
	Labels          map[string]string `json:"labels"`
	State           *state            `json:"state"`
}

type result struct {
	State   *state `json:"state"`
	Status  string `json:"status"`
	Details struct {
		Type         string `json:"type"`
		Reason       string `json:"reason"`
		DelaySeconds int    `json:"delay_seconds"`
	} `json:"details"`
}

func newFlowRun(t *testing.T, app *platformtest.App, body map[string]any) run {
	t.Helper()
	var f struct{ ID string }
	_, _ = app.Do(http.MethodPost, "/api/flows/", map[string]any{"name": "f"})
	app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusOK, &f)
	body["flow_id"] = f.ID
	var r run
	app.JSON(http.MethodPost, "/api/flow_runs/", body, http.StatusCreated, &r)
	return r
}

func TestFlowRunLifecycleAndRetries(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, events.Module, logs.Module, runs.Module)
		r := newFlowRun(t, app, map[string]any{"empirical_policy": map[string]any{"retries": 1, "retry_delay": 0}})
		if r.State == nil || r.State.Type != "PENDING" || r.Labels["prefect.flow.id"] != r.FlowID {
			t.Fatalf("created run %+v: want PENDING with the flow label", r)
		}
		steps := []struct {
			give       string
			wantStatus string
			wantType   string
			wantName   string
		}{
			{"RUNNING", "ACCEPT", "RUNNING", "Running"},
			{"PENDING", "ABORT", "RUNNING", "Running"},
			{"FAILED", "REJECT", "SCHEDULED", "AwaitingRetry"},
			{"RUNNING", "ACCEPT", "RUNNING", "Running"},
			{"FAILED", "ACCEPT", "FAILED", "Failed"},
		}
		for _, tt := range steps {
			status, raw := app.Do(http.MethodPost, "/api/flow_runs/"+r.ID+"/set_state", map[string]any{"state": map[string]any{"type": tt.give}})
			if status != http.StatusOK && status != http.StatusCreated {
				t.Fatalf("set_state %s: %d %s", tt.give, status, raw)
			}
			app.JSON(http.MethodGet, "/api/flow_runs/"+r.ID, nil, http.StatusOK, &r)
			if r.State.Type != tt.wantType || r.State.Name != tt.wantName {
				t.Fatalf("after %s: state %s/%s, want %s/%s (%s)", tt.give, r.State.Type, r.State.Name, tt.wantType, tt.wantName, raw)
			}
		}
		if r.RunCount != 2 || r.StartTime == nil || r.EndTime == nil {
			t.Fatalf("run %+v: want run_count 2 and start/end times", r)
		}
		var history []state
		app.JSON(http.MethodGet, "/api/flow_run_states/?flow_run_id="+r.ID, nil, http.StatusOK, &history)
		var names []string
		for _, s := range history {
			names = append(names, s.Name)
		}
		if len(names) != 5 || names[0] != "Pending" || names[2] != "AwaitingRetry" || names[4] != "Failed" {
			t.Fatalf("history %v", names)
		}
		var n int
		app.JSON(http.MethodPost, "/api/flow_runs/count", map[string]any{"flow_runs": map[string]any{"state": map[string]any{"type": map[string]any{"any_": []string{"FAILED"}}}}}, http.StatusOK, &n)
		if n != 1 {
			t.Fatalf("count FAILED = %d, want 1", n)
		}
		var fs []map[string]any
		app.JSON(http.MethodPost, "/api/flows/filter", map[string]any{"flow_runs": map[string]any{"id": map[string]any{"any_": []string{r.ID}}}}, http.StatusOK, &fs)
		if len(fs) != 1 {
			t.Fatalf("flows with the run: %v", fs)
		}
	})
}

func TestTaskRunsAndSubflows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, events.Module, logs.Module, runs.Module)
		parent := newFlowRun(t, app, map[string]any{"state": map[string]any{"type": "RUNNING"}})
		body := map[string]any{"flow_run_id": parent.ID, "task_key": "k", "dynamic_key": "0"}
		var tr, again run
		app.JSON(http.MethodPost, "/api/task_runs/", body, http.StatusCreated, &tr)
		app.JSON(http.MethodPost, "/api/task_runs/", body, http.StatusOK, &again)
		if again.ID != tr.ID {
			t.Fatalf("second create %s, want the first %s", again.ID, tr.ID)
		}
		var res result
		app.JSON(http.MethodPost, "/api/task_runs/"+tr.ID+"/set_state", map[string]any{"state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, &res)
		if res.Status != "ACCEPT" {
			t.Fatalf("task RUNNING: %+v", res)
		}
		var child run
		app.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": parent.FlowID, "parent_task_run_id": tr.ID}, http.StatusCreated, &child)
		app.JSON(http.MethodPost, "/api/flow_runs/"+child.ID+"/set_state", map[string]any{"state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, &res)
		app.JSON(http.MethodPost, "/api/flow_runs/"+child.ID+"/set_state", map[string]any{"state": map[string]any{"type": "COMPLETED"}}, http.StatusCreated, &res)
		app.JSON(http.MethodGet, "/api/task_runs/"+tr.ID, nil, http.StatusOK, &tr)
		if tr.State.Type != "COMPLETED" || tr.State.StateDetails["child_flow_run_id"] != child.ID {
			t.Fatalf("parent task state %+v, want COMPLETED with the child", tr.State)
		}
		var subs []run
		app.JSON(http.MethodPost, "/api/flow_runs/filter", map[string]any{"flow_runs": map[string]any{"parent_task_run_id": map[string]any{"is_null_": false}}}, http.StatusOK, &subs)
		if len(subs) != 1 || subs[0].ID != child.ID {
			t.Fatalf("subflows %+v", subs)
		}
		// No run here has a creator: a creator type or id matches none, is_null_ all.
		for _, tt := range []struct {
			give map[string]any
			want int
		}{
			{map[string]any{"type_": []string{"DEPLOYMENT"}}, 0},
			{map[string]any{"id_": []string{parent.ID}}, 0},
			{map[string]any{"is_null_": true}, 2},
		} {
			var got []run
			app.JSON(http.MethodPost, "/api/flow_runs/filter", map[string]any{"flow_runs": map[string]any{"created_by": tt.give}}, http.StatusOK, &got)
			if len(got) != tt.want {
				t.Fatalf("created_by %v: %d runs, want %d", tt.give, len(got), tt.want)
			}
		}
		// A task cannot start in a flow run that is not running.
		app.JSON(http.MethodPost, "/api/flow_runs/"+parent.ID+"/set_state", map[string]any{"state": map[string]any{"type": "COMPLETED"}}, http.StatusCreated, nil)
		var t2 run
		app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"flow_run_id": parent.ID, "task_key": "k", "dynamic_key": "1"}, http.StatusCreated, &t2)
		app.JSON(http.MethodPost, "/api/task_runs/"+t2.ID+"/set_state", map[string]any{"state": map[string]any{"type": "RUNNING"}}, http.StatusOK, &res)
		if res.Status != "ABORT" || res.Details.Reason != "The enclosing flow must be running to begin task execution." {
			t.Fatalf("task in a stopped flow: %+v", res)
		}
		app.JSON(http.MethodDelete, "/api/flow_runs/"+parent.ID, nil, http.StatusNoContent, nil)
		app.JSON(http.MethodGet, "/api/task_runs/"+tr.ID, nil, http.StatusNotFound, nil)
	})
}
