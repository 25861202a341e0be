package workpools_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// Flow runs filtered by their queue's pool, and the UI's task-run dashboard
// counting only the task runs whose flow run is in the filtered pool or
// queue.
func TestDashboardCountsByPoolAndQueue(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		var flow struct{ ID string }
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "f"}, http.StatusCreated, &flow)
		for _, name := range []string{"a", "b"} {
			app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": name, "type": "process"}, http.StatusCreated, nil)
		}
		start := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339Nano)
		for i, poolName := range []string{"a", "a", "b"} {
			runID := scheduledRun(t, app, flow.ID, poolName, "")
			body := map[string]any{"flow_run_id": runID, "task_key": "t", "dynamic_key": string(rune('0' + i)),
				"state": map[string]any{"type": "COMPLETED"}}
			var tr struct{ ID string }
			app.JSON(http.MethodPost, "/api/task_runs/", body, http.StatusCreated, &tr)
			if _, err := app.DB.NewUpdate().Table("task_run").Set("start_time = ?", start).Where("id = ?", tr.ID).Exec(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		for pool, want := range map[string]int{"a": 2, "b": 1, "zz": 0} {
			var n int
			app.JSON(http.MethodPost, "/api/flow_runs/count", map[string]any{"work_pools": map[string]any{
				"name": map[string]any{"any_": []string{pool}}}}, http.StatusOK, &n)
			if n != want {
				t.Fatalf("flow runs in pool %s: %d, want %d", pool, n, want)
			}
		}
		var inA []struct{ ID string }
		app.JSON(http.MethodPost, "/api/flow_runs/filter", map[string]any{"work_pools": map[string]any{}}, http.StatusOK, &inA)
		if len(inA) != 3 {
			t.Fatalf("flow runs in any pool: %d, want 3", len(inA))
		}
		window := map[string]any{"start_time": map[string]any{"after_": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339Nano)}}
		for _, tt := range []struct {
			name string
			give map[string]any
			want int
		}{
			{"no pool filter", nil, 3},
			{"pool a", map[string]any{"work_pools": map[string]any{"name": map[string]any{"any_": []string{"a"}}}}, 2},
			{"pool b's default queue", map[string]any{"work_queues": map[string]any{"name": map[string]any{"any_": []string{"default"}}},
				"work_pools": map[string]any{"name": map[string]any{"any_": []string{"b"}}}}, 1},
			{"no such pool", map[string]any{"work_pools": map[string]any{"name": map[string]any{"any_": []string{"zz"}}}}, 0},
		} {
			body := map[string]any{"task_runs": window}
			for k, v := range tt.give {
				body[k] = v
			}
			var buckets []struct{ Completed, Failed int }
			app.JSON(http.MethodPost, "/api/ui/task_runs/dashboard/counts", body, http.StatusOK, &buckets)
			total := 0
			for _, b := range buckets {
				total += b.Completed + b.Failed
			}
			if total != tt.want {
				t.Fatalf("%s: %d task runs counted, want %d", tt.name, total, tt.want)
			}
		}
	})
}
