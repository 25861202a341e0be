package workpools_test

import (
	"net/http"
	"testing"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// The legacy get_runs of a plain queue reads runs by queue name, in any
// pool, and counts its limit over the runs of that name, as Prefect's
// get_scheduled_flow_runs_from_work_queues (checked against the Python
// server).
func TestLegacyGetRunsMatchesTheQueueName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		for _, p := range []string{"a", "b"} {
			app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": p, "type": "process"}, http.StatusCreated, nil)
			app.JSON(http.MethodPost, "/api/work_pools/"+p+"/queues", map[string]any{"name": "shared", "concurrency_limit": 1}, http.StatusCreated, nil)
		}
		var flow, inB queue
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &flow)
		app.JSON(http.MethodGet, "/api/work_pools/b/queues/shared", nil, http.StatusOK, &inB)
		run := scheduledRun(t, app, flow.ID, "a", "shared")
		var got []struct{ ID string }
		app.JSON(http.MethodPost, "/api/work_queues/"+inB.ID+"/get_runs", map[string]any{}, http.StatusOK, &got)
		if len(got) != 1 || got[0].ID != run {
			t.Fatalf("b/shared get_runs = %+v; want a's run %s", got, run)
		}
		setState(t, app, scheduledRun(t, app, flow.ID, "a", "shared"), "PENDING")
		app.JSON(http.MethodPost, "/api/work_queues/"+inB.ID+"/get_runs", map[string]any{}, http.StatusOK, &got)
		if len(got) != 0 {
			t.Fatalf("b/shared with its one slot taken by a pending run of that name: %+v", got)
		}
	})
}
