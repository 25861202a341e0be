package runs_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/logs"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

func scheduledAt(t *testing.T, app *platformtest.App, when, tag string) run {
	t.Helper()
	return newFlowRun(t, app, map[string]any{"tags": []string{tag},
		"state": map[string]any{"type": "SCHEDULED", "state_details": map[string]any{"scheduled_time": when}}})
}

func TestHistoryCountsRunsPerInterval(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, logs.Module, runs.Module)
		for _, when := range []string{"2020-01-01T00:05:00Z", "2020-01-01T00:10:00Z", "2020-01-01T01:10:00Z", "2020-01-01T03:00:00Z"} {
			scheduledAt(t, app, when, "h")
		}
		var got []struct {
			IntervalStart string `json:"interval_start"`
			States        []struct {
				StateType string  `json:"state_type"`
				CountRuns int     `json:"count_runs"`
				Lateness  float64 `json:"sum_estimated_lateness"`
			} `json:"states"`
		}
		body := map[string]any{"history_start": "2020-01-01T00:00:00Z", "history_end": "2020-01-01T02:00:00Z",
			"history_interval_seconds": 3600, "flow_runs": map[string]any{"tags": map[string]any{"all_": []string{"h"}}}}
		app.JSON(http.MethodPost, "/api/flow_runs/history", body, http.StatusOK, &got)
		if len(got) != 2 || got[0].IntervalStart != "2020-01-01T00:00:00Z" || got[1].IntervalStart != "2020-01-01T01:00:00Z" {
			t.Fatalf("intervals %+v", got)
		}
		if len(got[0].States) != 1 || got[0].States[0].CountRuns != 2 || got[0].States[0].Lateness <= 0 ||
			len(got[1].States) != 1 || got[1].States[0].CountRuns != 1 {
			t.Fatalf("states %+v", got)
		}
		body["history_interval_seconds"] = 0.5
		if status, raw := app.Do(http.MethodPost, "/api/flow_runs/history", body); status != http.StatusUnprocessableEntity {
			t.Fatalf("interval 0.5: %d %s", status, raw)
		}
		var late *float64
		app.JSON(http.MethodPost, "/api/flow_runs/lateness", map[string]any{"flow_runs": map[string]any{"tags": map[string]any{"all_": []string{"h"}}}}, http.StatusOK, &late)
		if late == nil || *late < 3600 {
			t.Fatalf("lateness %v", late)
		}
	})
}

// graphNode is the part of a graph-v2 node the test checks.
type graphNode struct {
	Kind          string `json:"kind"`
	ID            string `json:"id"`
	Label         string `json:"label"`
	Parents       []struct{ ID string }
	Children      []struct{ ID string }
	Encapsulating []struct{ ID string }
}

func TestGraphV2LinksTaskRunsAndSubflows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, logs.Module, runs.Module)
		parent := newFlowRun(t, app, map[string]any{})
		task := func(key string, inputs map[string]any) run {
			var tr run
			app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"flow_run_id": parent.ID, "task_key": key, "dynamic_key": "0",
				"name": key, "task_inputs": inputs, "state": map[string]any{"type": "RUNNING"}}, http.StatusCreated, &tr)
			return tr
		}
		first := task("first", nil)
		second := task("second", map[string]any{"x": []any{map[string]any{"input_type": "task_run", "id": first.ID}}})
		wrapper := task("wrapper", map[string]any{"__parents__": []any{map[string]any{"input_type": "task_run", "id": first.ID}}})
		sub := newFlowRun(t, app, map[string]any{"parent_task_run_id": wrapper.ID, "name": "sub"})

		var g struct {
			RootNodeIDs []string             `json:"root_node_ids"`
			Nodes       [][2]json.RawMessage `json:"nodes"`
			States      []map[string]any     `json:"states"`
		}
		app.JSON(http.MethodGet, "/api/flow_runs/"+parent.ID+"/graph-v2", nil, http.StatusOK, &g)
		nodes := map[string]graphNode{}
		for _, pair := range g.Nodes {
			var n graphNode
			if err := json.Unmarshal(pair[1], &n); err != nil {
				t.Fatal(err)
			}
			nodes[n.ID] = n
		}
		if len(nodes) != 3 || len(g.States) != 1 {
			t.Fatalf("graph %+v", g)
		}
		if n := nodes[second.ID]; len(n.Parents) != 1 || n.Parents[0].ID != first.ID {
			t.Fatalf("second's parents %+v", n)
		}
		if n := nodes[first.ID]; len(n.Children) != 1 || n.Children[0].ID != second.ID {
			t.Fatalf("first's children %+v", n)
		}
		n := nodes[sub.ID]
		if n.Kind != "flow-run" || n.Label != "f / sub" || len(n.Encapsulating) != 1 || n.Encapsulating[0].ID != first.ID || len(n.Parents) != 0 {
			t.Fatalf("subflow node %+v", n)
		}
		if len(g.RootNodeIDs) != 2 {
			t.Fatalf("roots %v", g.RootNodeIDs)
		}
		if status, raw := app.Do(http.MethodGet, "/api/flow_runs/"+first.ID+"/graph-v2", nil); status != http.StatusNotFound ||
			!strings.Contains(string(raw), "exception_message") {
			t.Fatalf("graph of a missing run: %d %s", status, raw)
		}
	})
}

func TestBulkSetStateAndDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, logs.Module, runs.Module)
		for range 3 {
			scheduledAt(t, app, "2999-01-01T00:00:00Z", "bulk")
		}
		mine := map[string]any{"tags": map[string]any{"all_": []string{"bulk"}}}
		var set struct {
			Results []struct {
				FlowRunID string `json:"flow_run_id"`
				Status    string `json:"status"`
			} `json:"results"`
		}
		app.JSON(http.MethodPost, "/api/flow_runs/bulk_set_state", map[string]any{"flow_runs": mine, "state": map[string]any{"type": "CANCELLED"}, "limit": 2}, http.StatusOK, &set)
		if len(set.Results) != 2 || set.Results[0].Status != "ACCEPT" {
			t.Fatalf("bulk set state %+v", set)
		}
		if status, _ := app.Do(http.MethodPost, "/api/flow_runs/bulk_set_state", map[string]any{"state": map[string]any{"type": "CANCELLED"}, "limit": 51}); status != http.StatusUnprocessableEntity {
			t.Fatalf("limit 51: %d", status)
		}
		var del struct{ Deleted []string }
		app.JSON(http.MethodPost, "/api/flow_runs/bulk_delete", map[string]any{"flow_runs": mine}, http.StatusOK, &del)
		var n int
		app.JSON(http.MethodPost, "/api/flow_runs/count", map[string]any{"flow_runs": mine}, http.StatusOK, &n)
		if len(del.Deleted) != 3 || n != 0 {
			t.Fatalf("deleted %v, %d left", del.Deleted, n)
		}
	})
}

func TestUIRoutes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, logs.Module, runs.Module)
		later := scheduledAt(t, app, "2999-01-02T00:00:00Z", "ui")
		sooner := scheduledAt(t, app, "2999-01-01T00:00:00Z", "ui")
		var tr run
		app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"flow_run_id": later.ID, "task_key": "k", "dynamic_key": "0"}, http.StatusCreated, &tr)

		status, raw := app.Do(http.MethodPost, "/api/ui/flows/next-runs", map[string]any{"flow_ids": []string{later.FlowID, "00000000-0000-0000-0000-000000000000"}})
		want := `{"` + later.FlowID + `":{"id":"` + sooner.ID + `"`
		if status != http.StatusOK || !strings.HasPrefix(string(raw), want) || !strings.HasSuffix(strings.TrimSpace(string(raw)), `"00000000-0000-0000-0000-000000000000":null}`) {
			t.Fatalf("next runs: %d %s", status, raw)
		}
		status, raw = app.Do(http.MethodPost, "/api/ui/flow_runs/count-task-runs", map[string]any{"flow_run_ids": []string{later.ID, sooner.ID}})
		if status != http.StatusOK || strings.TrimSpace(string(raw)) != `{"`+later.ID+`":1,"`+sooner.ID+`":0}` {
			t.Fatalf("count task runs: %d %s", status, raw)
		}
		var counts map[string]int
		app.JSON(http.MethodPost, "/api/ui/task_runs/count", map[string]any{}, http.StatusOK, &counts)
		if len(counts) != 9 || counts["PENDING"] != 1 {
			t.Fatalf("counts by state %v", counts)
		}
		var ui struct {
			ID          string `json:"id"`
			FlowRunName string `json:"flow_run_name"`
		}
		app.JSON(http.MethodGet, "/api/ui/task_runs/"+tr.ID, nil, http.StatusOK, &ui)
		if ui.ID != tr.ID || ui.FlowRunName != later.Name {
			t.Fatalf("ui task run %+v", ui)
		}
	})
}

func TestLogsDownloadIsPythonCSV(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, logs.Module, runs.Module)
		r := newFlowRun(t, app, map[string]any{"name": "my run"})
		lines := []map[string]any{
			{"name": "a", "level": 20, "message": "second", "timestamp": "2020-01-01T00:00:01.5Z", "flow_run_id": r.ID},
			{"name": "a", "level": 40, "message": `x, "y"`, "timestamp": "2020-01-01T00:00:00Z", "flow_run_id": r.ID},
		}
		if status, raw := app.Do(http.MethodPost, "/api/logs/", lines); status != http.StatusCreated {
			t.Fatalf("create logs: %d %s", status, raw)
		}
		status, raw := app.Do(http.MethodGet, "/api/flow_runs/"+r.ID+"/logs/download", nil)
		want := "timestamp,level,flow_run_id,task_run_id,message\r\n" +
			"2020-01-01 00:00:00+00:00,40," + r.ID + `,,"x, ""y"""` + "\r\n" +
			"2020-01-01 00:00:01.500000+00:00,20," + r.ID + ",,second\r\n"
		if status != http.StatusOK || string(raw) != want {
			t.Fatalf("download: %d %q", status, raw)
		}
	})
}
