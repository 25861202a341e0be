package deployments_test

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// Legacy (tag-based) work queues: get_runs reads the runs their filter
// selects and work_queue_check lists the queues that would pick up a
// deployment; expectations are the Python server's answers to the same
// requests.
func TestLegacyQueueFiltersAndWorkQueueCheck(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "f")
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process"}, http.StatusCreated, nil)
		var dep deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "d", "flow_id": flowID, "tags": []string{"a", "b"},
			"work_pool_name": "p", "work_queue_name": "qq"}, http.StatusCreated, &dep)
		filters := map[string]any{
			"lq-tags":     map[string]any{"tags": []string{"a"}},
			"lq-deps":     map[string]any{"deployment_ids": []string{dep.ID}},
			"lq-empty":    map[string]any{"tags": []string{}, "deployment_ids": []string{}},
			"lq-none":     map[string]any{},
			"lq-otag":     map[string]any{"tags": []string{"z"}},
			"lq-nofilter": nil,
		}
		queueIDs := map[string]string{}
		for name, f := range filters {
			body := map[string]any{"name": name}
			if f != nil {
				body["filter"] = f
			}
			var q struct{ ID string }
			app.JSON(http.MethodPost, "/api/work_queues/", body, http.StatusCreated, &q)
			queueIDs[name] = q.ID
		}
		var run flowRun
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run", map[string]any{"tags": []string{"c"}}, http.StatusCreated, &run)
		// a run with the tag but no deployment: never in a legacy queue
		app.JSON(http.MethodPost, "/api/flow_runs/", map[string]any{"flow_id": flowID, "tags": []string{"a"},
			"state": map[string]any{"type": "SCHEDULED"}}, http.StatusCreated, nil)

		tests := []struct {
			give string
			want int
		}{
			{"lq-tags", 1}, {"lq-deps", 1}, {"lq-empty", 0}, {"lq-none", 1}, {"lq-otag", 0}, {"lq-nofilter", 0},
		}
		for _, tt := range tests {
			var got []flowRun
			app.JSON(http.MethodPost, "/api/work_queues/"+queueIDs[tt.give]+"/get_runs", map[string]any{}, http.StatusOK, &got)
			if len(got) != tt.want || (tt.want == 1 && got[0].ID != run.ID) {
				t.Errorf("%s get_runs = %+v; want %d run(s)", tt.give, got, tt.want)
			}
		}

		// the queue's concurrency limit counts the filter's PENDING/RUNNING runs
		app.JSON(http.MethodPatch, "/api/work_queues/"+queueIDs["lq-tags"], map[string]any{"concurrency_limit": 1}, http.StatusNoContent, nil)
		var second flowRun
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run", map[string]any{}, http.StatusCreated, &second)
		app.JSON(http.MethodPost, "/api/flow_runs/"+second.ID+"/set_state", map[string]any{"state": map[string]any{"type": "RUNNING"}, "force": true}, http.StatusCreated, nil)
		var got []flowRun
		app.JSON(http.MethodPost, "/api/work_queues/"+queueIDs["lq-tags"]+"/get_runs", map[string]any{}, http.StatusOK, &got)
		if len(got) != 0 {
			t.Errorf("lq-tags at its limit gave %+v", got)
		}
		app.JSON(http.MethodPatch, "/api/work_queues/"+queueIDs["lq-none"], map[string]any{"is_paused": true}, http.StatusNoContent, nil)
		app.JSON(http.MethodPost, "/api/work_queues/"+queueIDs["lq-none"]+"/get_runs", map[string]any{}, http.StatusOK, &got)
		if len(got) != 0 {
			t.Errorf("paused lq-none gave %+v", got)
		}

		var check []struct {
			Name   string `json:"name"`
			Filter any    `json:"filter"`
		}
		app.JSON(http.MethodGet, "/api/deployments/"+dep.ID+"/work_queue_check", nil, http.StatusOK, &check)
		var names []string
		for _, q := range check {
			names = append(names, q.Name)
		}
		sort.Strings(names)
		if want := "default,default,lq-deps,lq-empty,lq-nofilter,lq-none,lq-tags,qq"; strings.Join(names, ",") != want {
			t.Errorf("work_queue_check = %v; want %s", names, want)
		}
		if detail := app.Detail(http.MethodGet, "/api/deployments/00000000-0000-0000-0000-000000000000/work_queue_check", nil, http.StatusNotFound); detail != `"Deployment not found"` {
			t.Errorf("unknown deployment: %q", detail)
		}
	})
}

// PATCH with "work_pool_name": null takes the deployment off its work queue
// and keeps the stored queue name; "work_queue_name": null alone leaves the
// queue (Prefect's update_deployment).
func TestUpdateClearsWorkPool(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "f")
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process"}, http.StatusCreated, nil)
		var dep deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "d", "flow_id": flowID,
			"work_pool_name": "p", "work_queue_name": "qq"}, http.StatusCreated, &dep)
		type target struct {
			Pool  *string `json:"work_pool_name"`
			Queue *string `json:"work_queue_name"`
			ID    *string `json:"work_queue_id"`
		}
		tests := []struct {
			give                map[string]any
			wantPool, wantQueue string
			wantQueueIDNil      bool
		}{
			{map[string]any{"work_pool_name": nil}, "", "qq", true},
			{map[string]any{"work_pool_name": nil, "work_queue_name": nil}, "", "", true},
			{map[string]any{"work_queue_name": nil}, "p", "qq", false},
			{map[string]any{"work_pool_name": nil, "work_queue_name": "other"}, "", "other", true},
		}
		str := func(s *string) string {
			if s == nil {
				return ""
			}
			return *s
		}
		for _, tt := range tests {
			app.JSON(http.MethodPatch, "/api/deployments/"+dep.ID, tt.give, http.StatusNoContent, nil)
			var got target
			app.JSON(http.MethodGet, "/api/deployments/"+dep.ID, nil, http.StatusOK, &got)
			if str(got.Pool) != tt.wantPool || str(got.Queue) != tt.wantQueue || (got.ID == nil) != tt.wantQueueIDNil {
				t.Errorf("PATCH %v: pool %q queue %q id %v; want %q %q nil=%v", tt.give, str(got.Pool), str(got.Queue), got.ID,
					tt.wantPool, tt.wantQueue, tt.wantQueueIDNil)
			}
			app.JSON(http.MethodPatch, "/api/deployments/"+dep.ID, map[string]any{"work_pool_name": "p", "work_queue_name": "qq"}, http.StatusNoContent, nil)
		}
	})
}
