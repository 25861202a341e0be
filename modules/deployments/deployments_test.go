package deployments_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/deployments"
	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// newApp starts deployments with the modules it needs.
func newApp(t *testing.T, d config.Dialect) *platformtest.App {
	return platformtest.New(t, d, []fx.Option{flows.Module, runs.Module, events.Module, workpools.Module,
		concurrency.Module, deployments.Module}...)
}

type deployment struct {
	ID         string         `json:"id"`
	Name       string         `json:"name"`
	FlowID     string         `json:"flow_id"`
	Tags       []string       `json:"tags"`
	Parameters map[string]any `json:"parameters"`
	Paused     bool           `json:"paused"`
	Status     string         `json:"status"`
	Schedules  []struct {
		ID       string         `json:"id"`
		Schedule map[string]any `json:"schedule"`
		Active   bool           `json:"active"`
		Slug     string         `json:"slug"`
	} `json:"schedules"`
	Labels map[string]any `json:"labels"`
}

type flowRun struct {
	ID             string         `json:"id"`
	Parameters     map[string]any `json:"parameters"`
	Tags           []string       `json:"tags"`
	DeploymentID   string         `json:"deployment_id"`
	IdempotencyKey string         `json:"idempotency_key"`
	AutoScheduled  bool           `json:"auto_scheduled"`
	State          struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"state"`
}

func createFlow(t *testing.T, app *platformtest.App, name string) string {
	var f struct{ ID string }
	app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": name, "labels": map[string]any{"team": "data"}}, http.StatusCreated, &f)
	return f.ID
}

func TestUpsertReadFilterUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "etl")
		var first, second deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "daily", "flow_id": flowID, "tags": []string{"a"},
			"parameters": map[string]any{"x": 1}, "schedules": []any{map[string]any{"schedule": map[string]any{"interval": 3600}}}},
			http.StatusCreated, &first)
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "daily", "flow_id": flowID, "tags": []string{"b"},
			"schedules": []any{map[string]any{"schedule": map[string]any{"cron": "0 9 * * *"}, "active": false}}},
			http.StatusOK, &second)
		if second.ID != first.ID || len(second.Tags) != 1 || second.Tags[0] != "b" || second.Parameters["x"] != float64(1) {
			t.Fatalf("upsert = %+v, want the same deployment with new tags and kept parameters (%+v)", second, first)
		}
		if len(second.Schedules) != 1 || second.Schedules[0].Schedule["cron"] != "0 9 * * *" || second.Schedules[0].Active {
			t.Fatalf("upsert schedules = %+v, want the new inactive cron only", second.Schedules)
		}
		if second.Labels["prefect.flow.id"] != flowID || second.Labels["team"] != "data" || second.Status != "NOT_READY" {
			t.Fatalf("labels/status = %v %s", second.Labels, second.Status)
		}
		var byName deployment
		app.JSON(http.MethodGet, "/api/deployments/name/etl/daily", nil, http.StatusOK, &byName)
		if byName.ID != first.ID {
			t.Fatalf("by name = %s, want %s", byName.ID, first.ID)
		}
		tests := []struct {
			name string
			give map[string]any
			want int
		}{
			{"tags", map[string]any{"deployments": map[string]any{"tags": map[string]any{"all_": []string{"b"}}}}, 1},
			{"flow or deployment name", map[string]any{"deployments": map[string]any{"flow_or_deployment_name": map[string]any{"like_": "ET"}}}, 1},
			{"by flow", map[string]any{"flows": map[string]any{"name": map[string]any{"any_": []string{"nope"}}}}, 0},
			{"paused", map[string]any{"deployments": map[string]any{"paused": map[string]any{"eq_": true}}}, 0},
		}
		for _, tt := range tests {
			var got []deployment
			app.JSON(http.MethodPost, "/api/deployments/filter", tt.give, http.StatusOK, &got)
			var n int
			app.JSON(http.MethodPost, "/api/deployments/count", tt.give, http.StatusOK, &n)
			if len(got) != tt.want || n != tt.want {
				t.Fatalf("%s: filter %d, count %d, want %d", tt.name, len(got), n, tt.want)
			}
		}
		var counts map[string]int
		other := uuid.NewString()
		app.JSON(http.MethodPost, "/api/ui/flows/count-deployments", map[string]any{"flow_ids": []string{flowID, other}}, http.StatusOK, &counts)
		if counts[flowID] != 1 || counts[other] != 0 || len(counts) != 2 {
			t.Fatalf("count-deployments = %v", counts)
		}
		app.JSON(http.MethodPost, "/api/deployments/"+first.ID+"/pause_deployment", nil, http.StatusOK, nil)
		app.JSON(http.MethodPatch, "/api/deployments/"+first.ID, map[string]any{"description": "d"}, http.StatusNoContent, nil)
		var paused deployment
		app.JSON(http.MethodGet, "/api/deployments/"+first.ID, nil, http.StatusOK, &paused)
		if !paused.Paused {
			t.Fatalf("after pause: %+v", paused)
		}
	})
}

func TestErrors(t *testing.T) {
	app := newApp(t, config.SQLite)
	flowID := createFlow(t, app, "etl")
	missing := "/api/deployments/" + uuid.NewString()
	tests := []struct {
		name       string
		method     string
		path       string
		give       any
		wantStatus int
		wantDetail string
	}{
		{"missing", http.MethodGet, missing, nil, 404, `"Deployment not found"`},
		{"malformed id", http.MethodGet, "/api/deployments/x", nil, 404, `"Deployment not found"`},
		{"missing by name", http.MethodGet, "/api/deployments/name/etl/nope", nil, 404, `"Deployment not found"`},
		{"patch missing", http.MethodPatch, missing, map[string]any{}, 404, `"Deployment not found"`},
		{"run of missing", http.MethodPost, missing + "/create_flow_run", map[string]any{}, 404, `"Deployment not found"`},
		{"schedules of missing", http.MethodGet, missing + "/schedules", nil, 404, `"Deployment not found."`},
		{"unknown global limit", http.MethodPost, "/api/deployments/", map[string]any{"name": "x", "flow_id": flowID, "global_concurrency_limit_id": uuid.NewString()}, 404, `"Concurrency limit not found"`},
		{"unknown pool", http.MethodPost, "/api/deployments/", map[string]any{"name": "x", "flow_id": flowID, "work_pool_name": "nope"}, 404, `"Work pool \"nope\" not found."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := app.Do(tt.method, tt.path, tt.give)
			var got struct{ Detail json.RawMessage }
			_ = json.Unmarshal(body, &got)
			if status != tt.wantStatus || string(got.Detail) != tt.wantDetail {
				t.Fatalf("got %d %s, want %d %s", status, body, tt.wantStatus, tt.wantDetail)
			}
		})
	}
	invalid := []map[string]any{
		{"name": "x"},
		{"name": "a/b", "flow_id": flowID},
		{"name": "x", "flow_id": flowID, "concurrency_limit": 0},
		{"name": "x", "flow_id": flowID, "schedules": []any{map[string]any{"schedule": map[string]any{"cron": "bad"}}}},
		{"name": "x", "flow_id": flowID, "concurrency_options": map[string]any{"collision_strategy": "NOPE"}},
	}
	for _, give := range invalid {
		if status, body := app.Do(http.MethodPost, "/api/deployments/", give); status != 422 {
			t.Fatalf("create %v = %d %s, want 422", give, status, body)
		}
	}
	var n int
	app.JSON(http.MethodPost, "/api/deployments/count", nil, http.StatusOK, &n)
	if n != 0 {
		t.Fatalf("invalid creates stored %d deployments", n)
	}
}

func TestRunsFromDeployment(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "etl")
		var dep deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "d", "flow_id": flowID, "tags": []string{"t"},
			"parameters": map[string]any{"x": 1}, "enforce_parameter_schema": true,
			"parameter_openapi_schema": map[string]any{"type": "object", "properties": map[string]any{"x": map[string]any{"type": "integer"}}},
			"schedules":                []any{map[string]any{"schedule": map[string]any{"interval": 3600, "anchor_date": "2026-01-01T00:00:00Z"}}},
		}, http.StatusCreated, &dep)

		status, body := app.Do(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run", map[string]any{"parameters": map[string]any{"x": "no"}})
		if status != http.StatusConflict {
			t.Fatalf("invalid parameters = %d %s, want 409", status, body)
		}
		var run flowRun
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run", map[string]any{"tags": []string{"u"},
			"parameters": map[string]any{"y": map[string]any{"__prefect_kind": "json", "value": "[1, 2]"}}}, http.StatusCreated, &run)
		if run.State.Type != "SCHEDULED" || run.DeploymentID != dep.ID || run.Parameters["x"] != float64(1) ||
			len(run.Parameters["y"].([]any)) != 2 || len(run.Tags) != 2 {
			t.Fatalf("run = %+v", run)
		}

		var bulk struct {
			Results []struct {
				FlowRunID *string `json:"flow_run_id"`
				Status    string  `json:"status"`
				Error     *string `json:"error"`
			} `json:"results"`
		}
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run/bulk",
			[]any{map[string]any{"parameters": map[string]any{"x": "no"}}, map[string]any{}}, http.StatusOK, &bulk)
		if len(bulk.Results) != 2 || bulk.Results[0].Status != "FAILED" || bulk.Results[0].Error == nil ||
			bulk.Results[1].Status != "CREATED" || bulk.Results[1].FlowRunID == nil {
			t.Fatalf("bulk = %+v", bulk)
		}
		app.JSON(http.MethodDelete, "/api/flow_runs/"+*bulk.Results[1].FlowRunID, nil, http.StatusNoContent, nil)

		window := map[string]any{"start_time": "2026-02-01T00:00:00Z", "end_time": "2026-02-02T00:00:00Z", "min_runs": 3, "max_runs": 3}
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/schedule", window, http.StatusOK, nil)
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/schedule", window, http.StatusOK, nil) // idempotent
		var all []flowRun
		app.JSON(http.MethodPost, "/api/flow_runs/filter", map[string]any{"deployments": map[string]any{"id": map[string]any{"any_": []string{dep.ID}}}}, http.StatusOK, &all)
		auto := 0
		for _, r := range all {
			if r.AutoScheduled {
				auto++
			}
		}
		if len(all) != 4 || auto != 3 {
			t.Fatalf("runs = %d (%d auto-scheduled), want 1 + 3", len(all), auto)
		}

		var due []flowRun
		app.JSON(http.MethodPost, "/api/deployments/get_scheduled_flow_runs", map[string]any{"deployment_ids": []string{dep.ID},
			"scheduled_before": "2026-02-01T01:30:00Z"}, http.StatusOK, &due)
		if len(due) != 2 || !due[0].AutoScheduled {
			t.Fatalf("due = %+v, want the 00:00 and 01:00 runs", due)
		}
		var polled deployment
		app.JSON(http.MethodGet, "/api/deployments/"+dep.ID, nil, http.StatusOK, &polled)
		if polled.Status != "READY" {
			t.Fatalf("status after poll = %s", polled.Status)
		}

		var bulkDeleted struct{ Deleted []string }
		app.JSON(http.MethodPost, "/api/deployments/bulk_delete", map[string]any{"deployments": map[string]any{"name": map[string]any{"any_": []string{"nope"}}}}, http.StatusOK, &bulkDeleted)
		if len(bulkDeleted.Deleted) != 0 {
			t.Fatalf("bulk delete of no match = %v", bulkDeleted.Deleted)
		}
		app.JSON(http.MethodPost, "/api/deployments/bulk_delete", map[string]any{"deployments": map[string]any{"name": map[string]any{"any_": []string{"d"}}}}, http.StatusOK, &bulkDeleted)
		if len(bulkDeleted.Deleted) != 1 || bulkDeleted.Deleted[0] != dep.ID {
			t.Fatalf("bulk delete = %v, want %s", bulkDeleted.Deleted, dep.ID)
		}
		var left int
		app.JSON(http.MethodPost, "/api/flow_runs/count", map[string]any{"flow_runs": map[string]any{"deployment_id": map[string]any{"any_": []string{dep.ID}}}}, http.StatusOK, &left)
		if left != 0 {
			t.Fatalf("scheduled runs left after delete = %d", left)
		}
	})
}
