package deployments

import (
	"context"
	"net/http"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// The scheduler's passes on both databases: a deployment short of runs gets
// min_runs of them, a second pass (or an overlapping one) adds none, and a
// paused deployment or an inactive schedule gets none.
func TestSchedulerPasses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		var creator *runs.FlowRunCreator
		app := platformtest.New(t, d, flows.Module, runs.Module, events.Module, workpools.Module, concurrency.Module, Module,
			fx.Populate(&creator))
		s := newScheduler(app.DB, creator, schedulerConfig{loop: time.Minute, recentLoop: 5 * time.Second, batchSize: 1,
			insertBatch: 2, maxRuns: 100, minRuns: 3, maxScheduledTime: 100 * 24 * time.Hour, minScheduledTime: time.Hour}, zap.NewNop())
		ctx := context.Background()

		var flow struct{ ID string }
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &flow)
		hourly := []any{map[string]any{"schedule": map[string]any{"interval": 3600}}}
		ids := map[string]string{}
		for _, give := range []map[string]any{
			{"name": "active", "schedules": hourly},
			{"name": "paused", "paused": true, "schedules": hourly},
			{"name": "inactive", "schedules": []any{map[string]any{"schedule": map[string]any{"interval": 60}, "active": false}}},
			{"name": "unscheduled"},
		} {
			give["flow_id"] = flow.ID
			var dep struct{ ID string }
			app.JSON(http.MethodPost, "/api/deployments/", give, http.StatusCreated, &dep)
			ids[give["name"].(string)] = dep.ID
		}
		countRuns := func(name string) int {
			var n int
			app.JSON(http.MethodPost, "/api/flow_runs/count", map[string]any{"flow_runs": map[string]any{
				"deployment_id": map[string]any{"any_": []string{ids[name]}}}}, http.StatusOK, &n)
			return n
		}
		for _, query := range []string{"main", "main again", "recent"} {
			q := s.needingRuns
			if query == "recent" {
				q = s.recentlyUpdated
			}
			if err := s.pass(ctx, q); err != nil {
				t.Fatalf("%s pass: %v", query, err)
			}
			if got := countRuns("active"); got != 3 {
				t.Fatalf("after the %s pass: %d runs of the active deployment, want 3 (min_runs)", query, got)
			}
			for _, name := range []string{"paused", "inactive", "unscheduled"} {
				if got := countRuns(name); got != 0 {
					t.Fatalf("after the %s pass: %d runs of the %s deployment", query, got, name)
				}
			}
		}
		var needing []string
		if err := s.needingRuns([16]byte{}).Scan(ctx, &needing); err != nil || len(needing) != 0 {
			t.Fatalf("deployments needing runs after the passes = %v, %v", needing, err)
		}
	})
}
