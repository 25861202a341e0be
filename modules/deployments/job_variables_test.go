package deployments_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// Job variables are checked against the pool's base job template as
// Prefect does: on create (required fields aside, 422), on runs (the pool's
// defaults, the deployment's and the run's variables together, 422 or a
// FAILED bulk result) and on a PATCH naming the pool (the sent variables
// alone, 409); a PATCH without a pool does not check. Statuses and detail
// prefixes are the Python server's.
func TestJobVariablesAgainstTheBaseJobTemplate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "f")
		app.JSON(http.MethodPost, "/api/work_pools/", map[string]any{"name": "p", "type": "process", "base_job_template": map[string]any{
			"job_configuration": map[string]any{"command": "{{ command }}", "n": "{{ n }}"},
			"variables": map[string]any{"type": "object", "required": []string{"n"}, "properties": map[string]any{
				"command": map[string]any{"type": "string"}, "n": map[string]any{"type": "integer", "default": 1}}},
		}}, http.StatusCreated, nil)
		var dep deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "d", "flow_id": flowID, "work_pool_name": "p",
			"parameter_openapi_schema": map[string]any{"type": "object", "properties": map[string]any{"q": map[string]any{"type": "integer"}}}},
			http.StatusCreated, &dep)
		runs := "/api/deployments/" + dep.ID + "/create_flow_run"
		tests := []struct {
			method, path string
			give         map[string]any
			wantStatus   int
			wantDetail   string
		}{
			{http.MethodPost, "/api/deployments/", map[string]any{"name": "bad", "flow_id": flowID, "work_pool_name": "p", "job_variables": map[string]any{"n": "x"}},
				422, "Error creating deployment: Validation failed for field 'n'. Failure reason: "},
			{http.MethodPost, "/api/deployments/", map[string]any{"name": "extra", "flow_id": flowID, "work_pool_name": "p", "job_variables": map[string]any{"nope": 1}}, 201, ""},
			{http.MethodPost, runs, map[string]any{"job_variables": map[string]any{"n": "x"}}, 422, "Error creating flow run: Validation failed for field 'n'. Failure reason: "},
			{http.MethodPost, runs, map[string]any{"job_variables": map[string]any{"command": nil}}, 201, ""},
			{http.MethodPost, runs, map[string]any{"parameters": map[string]any{"q": nil}}, 201, ""}, // optional parameters accept null
			{http.MethodPatch, "/api/deployments/" + dep.ID, map[string]any{"work_pool_name": "p", "job_variables": map[string]any{"n": "y"}},
				409, `Error creating deployment: <ValidationError: "`},
			{http.MethodPatch, "/api/deployments/" + dep.ID, map[string]any{"job_variables": map[string]any{"n": "x"}}, 204, ""},
			{http.MethodPost, runs, map[string]any{"job_variables": map[string]any{"command": "ok"}}, 422, "Error creating flow run: Validation failed for field 'n'. "},
		}
		for _, tt := range tests {
			status, body := app.Do(tt.method, tt.path, tt.give)
			var got struct{ Detail string }
			_ = json.Unmarshal(body, &got)
			if status != tt.wantStatus || !strings.HasPrefix(got.Detail, tt.wantDetail) {
				t.Errorf("%s %s %v: %d %s; want %d with %q", tt.method, tt.path, tt.give, status, body, tt.wantStatus, tt.wantDetail)
			}
		}
		var bulk struct {
			Results []struct {
				Status string  `json:"status"`
				Error  *string `json:"error"`
			} `json:"results"`
		}
		app.JSON(http.MethodPost, runs+"/bulk", []any{map[string]any{"job_variables": map[string]any{"command": "ok"}}}, http.StatusOK, &bulk)
		if len(bulk.Results) != 1 || bulk.Results[0].Status != "FAILED" || !strings.HasPrefix(*bulk.Results[0].Error, "Error creating flow run: Validation failed for field 'n'") {
			t.Errorf("bulk over the deployment's bad n: %+v", bulk)
		}
	})
}
