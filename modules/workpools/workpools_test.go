package workpools_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

type pool struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Status         *string `json:"status"`
	DefaultQueueID string  `json:"default_queue_id"`
	ActiveSlots    *int    `json:"active_slots"`
	IsPaused       bool    `json:"is_paused"`
}

type queue struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	Priority     int    `json:"priority"`
	Status       string `json:"status"`
	WorkPoolName string `json:"work_pool_name"`
}

type workerRun struct {
	WorkQueueID string `json:"work_queue_id"`
	FlowRun     struct {
		ID            string  `json:"id"`
		WorkQueueName *string `json:"work_queue_name"`
	} `json:"flow_run"`
}

func scheduledRun(t *testing.T, app *platformtest.App, flowID, pool, queue string) string {
	t.Helper()
	body := map[string]any{"flow_id": flowID, "work_pool_name": pool, "state": map[string]any{"type": "SCHEDULED"}}
	if queue != "" {
		body["work_queue_name"] = queue
	}
	var run struct {
		ID string `json:"id"`
	}
	app.JSON(http.MethodPost, "/api/flow_runs/", body, http.StatusCreated, &run)
	return run.ID
}

func setState(t *testing.T, app *platformtest.App, runID, state string) {
	t.Helper()
	app.JSON(http.MethodPost, "/api/flow_runs/"+runID+"/set_state",
		map[string]any{"state": map[string]any{"type": state}, "force": true}, http.StatusCreated, nil)
}

func TestPoolCreateValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		tests := []struct {
			give       map[string]any
			wantStatus int
			wantBody   string
		}{
			{map[string]any{"name": "prefect-x", "type": "process"}, http.StatusForbidden, "reserved for internal use"},
			{map[string]any{"name": "PREFECT", "type": "process"}, http.StatusForbidden, "reserved for internal use"},
			{map[string]any{"name": "  ", "type": "process"}, http.StatusUnprocessableEntity, "name cannot be an empty string"},
			{map[string]any{"name": "a/b"}, http.StatusUnprocessableEntity, "string_pattern_mismatch"},
			{map[string]any{"name": "cl", "concurrency_limit": -1}, http.StatusUnprocessableEntity, "greater_than_equal"},
			{map[string]any{"name": "x", "unknown": 1}, http.StatusUnprocessableEntity, "extra_forbidden"},
			{map[string]any{"name": "t1", "base_job_template": map[string]any{"job_configuration": map[string]any{}}},
				http.StatusUnprocessableEntity, "must contain both a `job_configuration` key and a `variables` key"},
			{map[string]any{"name": "t2", "base_job_template": map[string]any{
				"job_configuration": map[string]any{"a": "{{ x }}", "b": []any{"{{y}}"}},
				"variables":         map[string]any{"properties": map[string]any{"y": map[string]any{}}}}},
				http.StatusUnprocessableEntity, "undeclared variable(s): x."},
			{map[string]any{"description": "no name"}, http.StatusUnprocessableEntity, `"missing"`},
			{map[string]any{"name": "storage", "storage_configuration": map[string]any{"nope": 1}}, http.StatusUnprocessableEntity, "extra_forbidden"},
		}
		for _, tt := range tests {
			status, body := app.Do(http.MethodPost, "/api/work_pools/", tt.give)
			if status != tt.wantStatus || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("create %v: %d %s; want %d containing %q", tt.give, status, body, tt.wantStatus, tt.wantBody)
			}
		}
		var count int
		app.JSON(http.MethodPost, "/api/work_pools/count", nil, http.StatusOK, &count)
		if count != 0 {
			t.Fatalf("refused creates left %d pools", count)
		}
	})
}

func TestScheduledRunsRespectLimitsAndPriority(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		var p pool
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process", "concurrency_limit": 3}, http.StatusCreated, &p)
		if p.ActiveSlots == nil || *p.ActiveSlots != 0 || p.Status == nil || *p.Status != "NOT_READY" {
			t.Fatalf("created pool %+v", p)
		}
		var hi, lo queue
		app.JSON(http.MethodPost, "/api/work_pools/p/queues", map[string]any{"name": "hi", "priority": 1}, http.StatusCreated, &hi)
		app.JSON(http.MethodPost, "/api/work_pools/p/queues", map[string]any{"name": "lo", "concurrency_limit": 2}, http.StatusCreated, &lo)
		var flow struct {
			ID string `json:"id"`
		}
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &flow)

		lo1 := scheduledRun(t, app, flow.ID, "p", "lo")
		lo2 := scheduledRun(t, app, flow.ID, "p", "lo")
		hi1 := scheduledRun(t, app, flow.ID, "p", "hi")
		def := scheduledRun(t, app, flow.ID, "p", "")

		var got []workerRun
		app.JSON(http.MethodPost, "/api/work_pools/p/get_scheduled_flow_runs", map[string]any{}, http.StatusOK, &got)
		// pool limit 3: hi (priority 1), default (2), then lo's earliest
		if len(got) != 3 || got[0].FlowRun.ID != hi1 || got[1].FlowRun.ID != def || got[2].FlowRun.ID != lo1 {
			t.Fatalf("poll = %+v; want hi, default, lo1", got)
		}
		if got[1].FlowRun.WorkQueueName != nil {
			t.Fatalf("worker poll shows the stored work_queue_name, got %q", *got[1].FlowRun.WorkQueueName)
		}

		// two of lo's runs take its two slots: lo has no room left
		setState(t, app, lo1, "RUNNING")
		setState(t, app, hi1, "RUNNING")
		app.JSON(http.MethodPost, "/api/work_pools/p/get_scheduled_flow_runs", map[string]any{"work_queue_names": []string{"lo"}}, http.StatusOK, &got)
		if len(got) != 1 || got[0].FlowRun.ID != lo2 {
			t.Fatalf("lo with 1 free slot: %+v", got)
		}
		setState(t, app, def, "PENDING")
		// pool: 3 slots taken (lo1, hi1, def)
		app.JSON(http.MethodPost, "/api/work_pools/p/get_scheduled_flow_runs", map[string]any{}, http.StatusOK, &got)
		if len(got) != 0 {
			t.Fatalf("full pool gave %+v", got)
		}
		app.JSON(http.MethodGet, "/api/work_pools/p", nil, http.StatusOK, &p)
		if *p.ActiveSlots != 3 {
			t.Fatalf("active_slots = %d, want 3", *p.ActiveSlots)
		}
		var queues []queue
		app.JSON(http.MethodPost, "/api/work_pools/p/queues/filter", nil, http.StatusOK, &queues)
		for _, q := range queues {
			if q.Status != "READY" || q.WorkPoolName != "p" {
				t.Fatalf("after polls queue %+v; want READY in p", q)
			}
		}
		status, body := app.Do(http.MethodPost, "/api/work_pools/p/get_scheduled_flow_runs", map[string]any{"work_queue_names": []string{"nope"}})
		if status != http.StatusNotFound || !strings.Contains(string(body), "Work pool queue 'p/nope' not found.") {
			t.Fatalf("unknown queue: %d %s", status, body)
		}
	})
}

func TestDeleteRules(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		var p pool
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process"}, http.StatusCreated, &p)
		app.JSON(http.MethodPost, "/api/work_pools/p/queues", map[string]any{"name": "q"}, http.StatusCreated, nil)
		if status, _ := app.Do(http.MethodDelete, "/api/work_pools/p/queues/default", nil); status != http.StatusBadRequest {
			t.Fatalf("deleting the default queue: %d, want 400", status)
		}
		app.JSON(http.MethodDelete, "/api/work_pools/p/queues/q", nil, http.StatusNoContent, nil)
		app.JSON(http.MethodPost, "/api/work_pools/p/workers/heartbeat", map[string]any{"name": "w", "heartbeat_interval_seconds": 10.0}, http.StatusNoContent, nil)
		app.JSON(http.MethodDelete, "/api/work_pools/p/workers/w", nil, http.StatusNoContent, nil)
		app.JSON(http.MethodDelete, "/api/work_pools/p/workers/w", nil, http.StatusNotFound, nil)
		if status, _ := app.Do(http.MethodDelete, "/api/work_pools/prefect-managed", nil); status != http.StatusForbidden {
			t.Fatalf("deleting a reserved pool: %d, want 403", status)
		}
		app.JSON(http.MethodDelete, "/api/work_pools/p", nil, http.StatusNoContent, nil)
		app.JSON(http.MethodGet, "/api/work_pools/p", nil, http.StatusNotFound, nil)
		app.JSON(http.MethodGet, "/api/work_queues/"+p.DefaultQueueID, nil, http.StatusNotFound, nil)
	})
}
