package deployments_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/modules/deployments"
	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/modules/variables"
	"github.com/prefect-server/prefect-server/modules/workpools"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

func jinjaParam(template any) map[string]any {
	return map[string]any{"__prefect_kind": "jinja", "template": template}
}

// Runs from a deployment render Jinja parameters in Prefect's sandbox (no
// variables, undefined names empty, range capped); a bad template is a 400
// (single create, PATCH) or a FAILED result (bulk). Expected values are the
// Python server's answers to the same requests.
func TestJinjaParameters(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, runs.Module, events.Module, workpools.Module,
			concurrency.Module, deployments.Module, variables.Module)
		flowID := createFlow(t, app, "f")
		app.JSON(http.MethodPost, "/api/variables/", map[string]any{"name": "v1", "value": "hello"}, http.StatusCreated, nil)
		var dep deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "d", "flow_id": flowID,
			"parameters": map[string]any{"base": jinjaParam("{{ 2 * 3 }}")}}, http.StatusCreated, &dep)
		if _, kept := dep.Parameters["base"].(map[string]any); !kept {
			t.Fatalf("create stored %v; Prefect stores parameters as sent", dep.Parameters)
		}

		tests := []struct {
			give       any
			wantStatus int
			want       string // the rendered x, or a piece of the detail
		}{
			{jinjaParam("{{ 1 + 1 }}"), http.StatusCreated, `"2"`},
			{jinjaParam("a {{ missing }} b"), http.StatusCreated, `"a  b"`},
			{jinjaParam("{% for i in range(3) %}{{ i }}{% endfor %}"), http.StatusCreated, `"012"`},
			{jinjaParam("{{ 'a' | upper }}"), http.StatusCreated, `"A"`},
			{jinjaParam(map[string]any{"__prefect_kind": "workspace_variable", "variable_name": "v1"}), http.StatusCreated, `"hello"`},
			{jinjaParam(map[string]any{"__prefect_kind": "json", "value": `"{{ 3 }}"`}), http.StatusCreated, `"3"`},
			{[]any{jinjaParam("{{ 4 }}")}, http.StatusCreated, `["4"]`},
			{jinjaParam("{{ 1 + }}"), http.StatusBadRequest, "Error hydrating flow run parameters: Invalid jinja: "},
			{jinjaParam("{% for i in range(1000) %}{{ i }}{% endfor %}"), http.StatusBadRequest,
				"Error hydrating flow run parameters: Invalid jinja: Failed to render template due to the following error: "},
			{map[string]any{"__prefect_kind": "jinja"}, http.StatusBadRequest, "Error hydrating flow run parameters: Missing 'template' key in __prefect object"},
			{jinjaParam(5), http.StatusBadRequest, "Error hydrating flow run parameters: Invalid jinja: "},
		}
		for _, tt := range tests {
			status, body := app.Do(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run", map[string]any{"parameters": map[string]any{"x": tt.give}})
			var got struct {
				Parameters map[string]json.RawMessage `json:"parameters"`
				Detail     string                     `json:"detail"`
			}
			if err := json.Unmarshal(body, &got); err != nil || status != tt.wantStatus {
				t.Errorf("%v: %d %s; want %d", tt.give, status, body, tt.wantStatus)
				continue
			}
			if status == http.StatusCreated && (string(got.Parameters["x"]) != tt.want || string(got.Parameters["base"]) != `"6"`) {
				t.Errorf("%v: parameters %s; want x = %s and base = \"6\"", tt.give, body, tt.want)
			}
			if status != http.StatusCreated && !strings.HasPrefix(got.Detail, tt.want) {
				t.Errorf("%v: detail %q; want it to start with %q", tt.give, got.Detail, tt.want)
			}
		}

		var bulk struct {
			Results []struct {
				Status string  `json:"status"`
				Error  *string `json:"error"`
			} `json:"results"`
		}
		app.JSON(http.MethodPost, "/api/deployments/"+dep.ID+"/create_flow_run/bulk", []any{
			map[string]any{"parameters": map[string]any{"x": jinjaParam("{{ 1 }}")}},
			map[string]any{"parameters": map[string]any{"x": jinjaParam("{{ 1 + }}")}},
		}, http.StatusOK, &bulk)
		if len(bulk.Results) != 2 || bulk.Results[0].Status != "CREATED" || bulk.Results[1].Status != "FAILED" ||
			!strings.HasPrefix(*bulk.Results[1].Error, "Invalid jinja: ") {
			t.Errorf("bulk = %+v", bulk)
		}

		// PATCH stores the parameters hydrated, and refuses a bad template
		app.JSON(http.MethodPatch, "/api/deployments/"+dep.ID, map[string]any{"parameters": map[string]any{"x": jinjaParam("{{ 1 + 1 }}")}}, http.StatusNoContent, nil)
		var patched deployment
		app.JSON(http.MethodGet, "/api/deployments/"+dep.ID, nil, http.StatusOK, &patched)
		if patched.Parameters["x"] != "2" || len(patched.Parameters) != 1 {
			t.Errorf("patched parameters %v; want {x: 2}", patched.Parameters)
		}
		detail := app.Detail(http.MethodPatch, "/api/deployments/"+dep.ID, map[string]any{"parameters": map[string]any{"x": jinjaParam("{{ 1 + }}")}}, http.StatusBadRequest)
		if !strings.HasPrefix(detail, `"Error hydrating deployment parameters: Invalid jinja: `) {
			t.Errorf("PATCH with a bad template: %s", detail)
		}
	})
}

// PATCH validates the parameters against the schema when it is enforced,
// ignoring "required", and refuses any change to a deployment that enforces
// a schema it does not have (Prefect's update_deployment).
func TestUpdateEnforcesParameterSchema(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "f")
		var noSchema, withSchema deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "none", "flow_id": flowID, "parameter_openapi_schema": nil}, http.StatusCreated, &noSchema)
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "schema", "flow_id": flowID, "parameter_openapi_schema": map[string]any{
			"type": "object", "required": []string{"n", "s"},
			"properties": map[string]any{"n": map[string]any{"type": "integer"}, "s": map[string]any{"type": "string"}}}}, http.StatusCreated, &withSchema)
		tests := []struct {
			id         string
			give       map[string]any
			wantStatus int
		}{
			{noSchema.ID, map[string]any{"paused": true}, http.StatusConflict},
			{noSchema.ID, map[string]any{"paused": true, "enforce_parameter_schema": false}, http.StatusNoContent},
			{withSchema.ID, map[string]any{"parameters": map[string]any{"n": 1}}, http.StatusNoContent},
			{withSchema.ID, map[string]any{"parameters": map[string]any{"n": "x"}}, http.StatusConflict},
			{withSchema.ID, map[string]any{"parameters": map[string]any{"n": map[string]any{"__prefect_kind": "json", "value": "5"}}}, http.StatusNoContent},
		}
		for _, tt := range tests {
			if status, body := app.Do(http.MethodPatch, "/api/deployments/"+tt.id, tt.give); status != tt.wantStatus {
				t.Errorf("PATCH %v: %d %s; want %d", tt.give, status, body, tt.wantStatus)
			}
		}
		var got deployment
		app.JSON(http.MethodGet, "/api/deployments/"+withSchema.ID, nil, http.StatusOK, &got)
		if got.Parameters["n"] != float64(5) {
			t.Errorf("parameters %v; want n = 5 (hydrated)", got.Parameters)
		}
		var empty deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "absent", "flow_id": flowID}, http.StatusCreated, &empty)
		status, body := app.Do(http.MethodGet, "/api/deployments/"+empty.ID, nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"parameter_openapi_schema":{}`) || !strings.Contains(string(body), `"pull_steps":[]`) {
			t.Errorf("absent schema and pull steps are stored as {} and []: %d %s", status, body)
		}
		if e := app.Invalid(http.MethodPost, "/api/deployments/", map[string]any{"name": "bad", "flow_id": flowID, "pull_steps": "x"}); e.Type != "list_type" || string(e.Loc) != `["body","pull_steps"]` {
			t.Errorf("pull_steps \"x\": %+v", e)
		}
	})
}
