package runs_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// servicesApp runs the runs services every 20ms, late runs with no grace.
func servicesApp(t *testing.T, d config.Dialect) *platformtest.App {
	cfg := platformtest.DefaultConfig(t, d)
	settings := map[string]string{
		"PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS":            "0.02",
		"PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS":           "0",
		"PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_LOOP_SECONDS":    "0.02",
		"PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS": "0.02",
	}
	cfg.Services.Env = func(name string) (string, bool) { v, ok := settings[name]; return v, ok }
	return platformtest.NewWithConfig(t, cfg, flows.Module, events.Module, runs.Module,
		runService(t, "late_runs"), runService(t, "pause_expirations"), runService(t, "cancellation_cleanup"))
}

// waitForRun polls a flow or task run until ok accepts it.
func waitForRun(t *testing.T, app *platformtest.App, path string, ok func(run) bool) run {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var r run
		app.JSON(http.MethodGet, path, nil, http.StatusOK, &r)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reached the expected state: %+v", path, r.State)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func stateIs(typ, name string) func(run) bool {
	return func(r run) bool { return r.State != nil && r.State.Type == typ && (name == "" || r.State.Name == name) }
}

func TestLateRunsAndPauseExpirations(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := servicesApp(t, d)
		past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
		late := newFlowRun(t, app, map[string]any{"state": map[string]any{"type": "SCHEDULED",
			"state_details": map[string]any{"scheduled_time": past}}})
		got := waitForRun(t, app, "/api/flow_runs/"+late.ID, stateIs("SCHEDULED", "Late"))
		if got.State.StateDetails["scheduled_time"] == nil {
			t.Errorf("late state lost its scheduled time: %+v", got.State)
		}

		paused := newFlowRun(t, app, map[string]any{"state": map[string]any{"type": "RUNNING"}})
		app.JSON(http.MethodPost, "/api/flow_runs/"+paused.ID+"/set_state", map[string]any{"state": map[string]any{
			"type": "PAUSED", "state_details": map[string]any{"pause_timeout": past}}}, http.StatusCreated, nil)
		got = waitForRun(t, app, "/api/flow_runs/"+paused.ID, stateIs("FAILED", ""))
		if got.State.Message == nil || *got.State.Message != "The flow was paused and never resumed." {
			t.Errorf("expired pause message %v", got.State.Message)
		}
	})
}

func TestCancellationCleanup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := servicesApp(t, d)
		parent := newFlowRun(t, app, map[string]any{"state": map[string]any{"type": "RUNNING"}})
		var task, subflowTask run
		for i, dst := range []*run{&task, &subflowTask} {
			app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"flow_run_id": parent.ID, "task_key": "t",
				"dynamic_key": string(rune('0' + i)), "state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, dst)
		}
		child := newFlowRun(t, app, map[string]any{"parent_task_run_id": subflowTask.ID, "state": map[string]any{"type": "RUNNING"}})
		app.JSON(http.MethodPost, "/api/flow_runs/"+parent.ID+"/set_state",
			map[string]any{"state": map[string]any{"type": "CANCELLED"}, "force": true}, http.StatusCreated, nil)

		got := waitForRun(t, app, "/api/task_runs/"+task.ID, stateIs("CANCELLED", ""))
		if got.State.Message == nil || *got.State.Message != "The parent flow run was cancelled." {
			t.Errorf("task run message %v", got.State.Message)
		}
		waitForRun(t, app, "/api/flow_runs/"+child.ID, stateIs("CANCELLED", ""))
	})
}
