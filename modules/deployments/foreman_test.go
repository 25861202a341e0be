package deployments

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The foreman's deployment check: a READY deployment not polled within the
// timeout becomes NOT_READY unless its queue was polled since; recent or
// not-ready ones are left alone.
func TestForemanMarksUnpolledDeploymentsNotReady(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, runs.Module, events.Module, workpools.Module, concurrency.Module, Module)
		ctx := context.Background()
		var flow struct{ ID string }
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &flow)
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "pool", "type": "process"}, http.StatusCreated, nil)

		now := time.Now()
		old, recent := types.From(now.Add(-10*time.Minute)), types.From(now.Add(-10*time.Second))
		cases := []struct {
			name, pool string
			status     string
			polled     types.DateTime
			queuePoll  *types.DateTime
			want       string
		}{
			{name: "stale", status: statusReady, polled: old, want: statusNotReady},
			{name: "queue-polled", pool: "pool", status: statusReady, polled: old, queuePoll: &recent, want: statusReady},
			{name: "recent", status: statusReady, polled: recent, want: statusReady},
			{name: "not-ready", status: statusNotReady, polled: old, want: statusNotReady},
		}
		ids := map[string]string{}
		for _, c := range cases {
			body := map[string]any{"name": c.name, "flow_id": flow.ID}
			if c.pool != "" {
				body["work_pool_name"] = c.pool
			}
			var dep struct {
				ID          string `json:"id"`
				WorkQueueID string `json:"work_queue_id"`
			}
			app.JSON(http.MethodPost, "/api/deployments/", body, http.StatusCreated, &dep)
			ids[c.name] = dep.ID
			if _, err := app.DB.NewUpdate().Table("deployment").Set("status = ?", c.status).Set("last_polled = ?", c.polled).
				Where("id = ?", dep.ID).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			if c.queuePoll != nil {
				if _, err := app.DB.NewUpdate().Table("work_queue").Set("last_polled = ?", *c.queuePoll).
					Where("id = ?", dep.WorkQueueID).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		check := foremanCheck(&repo{db: app.DB}, notReadyAfter(time.Minute))
		for range 2 { // a second pass changes nothing
			if err := check(ctx); err != nil {
				t.Fatal(err)
			}
			for _, c := range cases {
				var got struct{ Status string }
				app.JSON(http.MethodGet, "/api/deployments/"+ids[c.name], nil, http.StatusOK, &got)
				if got.Status != c.want {
					t.Fatalf("%s: status %s, want %s", c.name, got.Status, c.want)
				}
			}
		}
	})
}
