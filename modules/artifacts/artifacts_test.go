package artifacts_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/prefect-server/prefect-server/modules/artifacts"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

const missing = "00000000-0000-4000-8000-000000000000"

type artifact struct {
	ID          string            `json:"id"`
	Created     string            `json:"created"`
	Updated     string            `json:"updated"`
	Key         *string           `json:"key"`
	LatestID    string            `json:"latest_id"`
	Type        *string           `json:"type"`
	Description *string           `json:"description"`
	Data        json.RawMessage   `json:"data"`
	Metadata    map[string]string `json:"metadata_"`
	FlowRunID   *string           `json:"flow_run_id"`
}

func create(t *testing.T, app *platformtest.App, body map[string]any) artifact {
	t.Helper()
	var a artifact
	app.JSON(http.MethodPost, "/api/artifacts/", body, http.StatusCreated, &a)
	return a
}

func latest(t *testing.T, app *platformtest.App, key string) (int, artifact) {
	t.Helper()
	status, body := app.Do(http.MethodGet, "/api/artifacts/"+key+"/latest", nil)
	var a artifact
	_ = json.Unmarshal(body, &a)
	return status, a
}

func TestCreateReadAndLatest(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, artifacts.Module)
		long := make([]rune, 501)
		for i := range long {
			long[i] = 'é'
		}
		v1 := create(t, app, map[string]any{"key": "report", "type": "markdown", "data": "# v1", "description": "first",
			"metadata_": map[string]string{"long": string(long)}, "flow_run_id": "11111111-1111-4111-8111-111111111111"})
		if *v1.Key != "report" || string(v1.Data) != `"# v1"` || v1.Created != v1.Updated || len([]rune(v1.Metadata["long"])) != 503 {
			t.Fatalf("created = %+v, want the body back with metadata cut to 500 + ...", v1)
		}
		v2 := create(t, app, map[string]any{"key": "report", "type": "table", "data": map[string]any{"rows": []int{1, 2}}})
		var got artifact
		app.JSON(http.MethodGet, "/api/artifacts/"+v1.ID, nil, http.StatusOK, &got)
		if got.ID != v1.ID || string(got.Data) != `"# v1"` || *got.Description != "first" {
			t.Fatalf("read v1 = %+v", got)
		}
		status, l := latest(t, app, "report")
		if status != 200 || l.ID == v2.ID || string(l.Data) != `{"rows":[1,2]}` || *l.Type != "table" ||
			l.Description != nil || l.Metadata != nil || l.FlowRunID != nil || l.Created != v1.Created || l.Updated != v2.Created {
			t.Fatalf("latest = %d %+v: want v2's fields under the collection's id, created at v1", status, l)
		}
		var coll []artifact
		app.JSON(http.MethodPost, "/api/artifacts/latest/filter", nil, http.StatusOK, &coll)
		if len(coll) != 1 || coll[0].LatestID != v2.ID || coll[0].ID != l.ID {
			t.Fatalf("collections = %+v, want one with latest_id %s", coll, v2.ID)
		}
		unkeyed := create(t, app, map[string]any{"data": 3.5})
		if unkeyed.Key != nil || string(unkeyed.Data) != "3.5" {
			t.Fatalf("unkeyed = %+v", unkeyed)
		}
		var n int
		app.JSON(http.MethodPost, "/api/artifacts/latest/count", nil, http.StatusOK, &n)
		if n != 1 {
			t.Fatalf("latest count = %d, want 1 (unkeyed artifacts have no collection)", n)
		}
	})
}

func TestUpdateAndDeleteKeepCollection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, artifacts.Module)
		v1 := create(t, app, map[string]any{"key": "k", "data": "v1", "description": "one"})
		v2 := create(t, app, map[string]any{"key": "k", "data": "v2"})
		v3 := create(t, app, map[string]any{"key": "k", "data": "v3"})

		// updating an older version leaves the collection alone
		app.JSON(http.MethodPatch, "/api/artifacts/"+v1.ID, map[string]any{"data": "v1 edited"}, http.StatusNoContent, nil)
		if _, l := latest(t, app, "k"); string(l.Data) != `"v3"` {
			t.Fatalf("latest after editing v1 = %s", l.Data)
		}
		// updating the latest updates the collection, only the fields sent
		app.JSON(http.MethodPatch, "/api/artifacts/"+v3.ID, map[string]any{"description": "three", "metadata_": map[string]string{"a": "b"}}, http.StatusNoContent, nil)
		_, l := latest(t, app, "k")
		if string(l.Data) != `"v3"` || l.Description == nil || *l.Description != "three" || l.Metadata["a"] != "b" || l.Updated <= v3.Updated {
			t.Fatalf("latest after editing v3 = %+v", l)
		}
		app.JSON(http.MethodPatch, "/api/artifacts/"+v3.ID, map[string]any{"data": nil, "metadata_": nil}, http.StatusNoContent, nil)
		var got artifact
		app.JSON(http.MethodGet, "/api/artifacts/"+v3.ID, nil, http.StatusOK, &got)
		if string(got.Data) != "null" || got.Metadata != nil || *got.Description != "three" {
			t.Fatalf("v3 after nulling = %+v", got)
		}

		// deleting an older version leaves the collection alone
		app.JSON(http.MethodDelete, "/api/artifacts/"+v2.ID, nil, http.StatusNoContent, nil)
		if _, l := latest(t, app, "k"); l.Data == nil || string(l.Data) != "null" {
			t.Fatalf("latest after deleting v2 = %s, want v3's null data", l.Data)
		}
		// deleting the latest falls back to the next latest, with its fields and times
		app.JSON(http.MethodDelete, "/api/artifacts/"+v3.ID, nil, http.StatusNoContent, nil)
		var coll []artifact
		app.JSON(http.MethodPost, "/api/artifacts/latest/filter", nil, http.StatusOK, &coll)
		if len(coll) != 1 || coll[0].LatestID != v1.ID || string(coll[0].Data) != `"v1 edited"` || *coll[0].Description != "one" ||
			coll[0].Created != v1.Created {
			t.Fatalf("collection after deleting the latest = %+v, want v1", coll)
		}
		// deleting the last one removes the collection
		app.JSON(http.MethodDelete, "/api/artifacts/"+v1.ID, nil, http.StatusNoContent, nil)
		if status, _ := latest(t, app, "k"); status != http.StatusNotFound {
			t.Fatalf("latest after deleting all = %d, want 404", status)
		}
		app.JSON(http.MethodDelete, "/api/artifacts/"+v1.ID, nil, http.StatusNotFound, nil)
	})
}

func TestFilterSortAndCount(t *testing.T) {
	tests := []struct {
		name   string
		path   string
		give   map[string]any
		want   []string // data of the results, in order
		noFlow bool     // the flows module is not built
	}{
		{"key asc", "/api/artifacts/filter", map[string]any{"sort": "KEY_ASC", "offset": 2, "artifacts": map[string]any{"key": map[string]any{"exists_": true}}}, []string{"b1"}, false},
		{"key desc", "/api/artifacts/filter", map[string]any{"sort": "KEY_DESC", "limit": 1, "artifacts": map[string]any{"key": map[string]any{"exists_": true}}}, []string{"b1"}, false},
		{"created desc", "/api/artifacts/filter", map[string]any{"sort": "CREATED_DESC"}, []string{"none", "b1", "a2", "a1"}, false},
		{"created desc offset", "/api/artifacts/filter", map[string]any{"sort": "CREATED_DESC", "offset": 3}, []string{"a1"}, false},
		{"key any", "/api/artifacts/filter", map[string]any{"sort": "CREATED_DESC", "artifacts": map[string]any{"key": map[string]any{"any_": []string{"a"}}}}, []string{"a2", "a1"}, false},
		{"key like", "/api/artifacts/filter", map[string]any{"artifacts": map[string]any{"key": map[string]any{"like_": "B"}}}, []string{"b1"}, false},
		{"key not exists", "/api/artifacts/filter", map[string]any{"artifacts": map[string]any{"key": map[string]any{"exists_": false}}}, []string{"none"}, false},
		{"type any and not any", "/api/artifacts/filter", map[string]any{"sort": "CREATED_DESC", "artifacts": map[string]any{"type": map[string]any{"any_": []string{"markdown", "table"}, "not_any_": []string{"table"}}}}, []string{"a2", "a1"}, false},
		{"flow run id", "/api/artifacts/filter", map[string]any{"artifacts": map[string]any{"flow_run_id": map[string]any{"any_": []string{"11111111-1111-4111-8111-111111111111"}}}}, []string{"b1"}, false},
		{"or operator", "/api/artifacts/filter", map[string]any{"sort": "CREATED_DESC", "artifacts": map[string]any{"operator": "or_", "key": map[string]any{"any_": []string{"b"}}, "type": map[string]any{"any_": []string{"result"}}}}, []string{"none", "b1"}, false},
		{"flow runs filter without a runs module matches nothing", "/api/artifacts/filter", map[string]any{"flow_runs": map[string]any{}}, []string{}, false},
		{"task runs filter without a runs module matches nothing", "/api/artifacts/filter", map[string]any{"task_runs": map[string]any{"id": map[string]any{"any_": []string{}}}}, []string{}, false},
		{"flows filter matches nothing without runs", "/api/artifacts/filter", map[string]any{"flows": map[string]any{"name": map[string]any{"any_": []string{"x"}}}}, []string{}, false},
		{"flows filter without the flows module", "/api/artifacts/filter", map[string]any{"flows": map[string]any{}}, []string{}, true},
		{"null related filters ignored", "/api/artifacts/filter", map[string]any{"sort": "CREATED_DESC", "flows": nil, "flow_runs": nil, "task_runs": nil}, []string{"none", "b1", "a2", "a1"}, false},
		{"latest by key asc", "/api/artifacts/latest/filter", map[string]any{"sort": "KEY_ASC"}, []string{"a2", "b1"}, false},
		{"latest key like", "/api/artifacts/latest/filter", map[string]any{"artifacts": map[string]any{"key": map[string]any{"like_": "a"}}}, []string{"a2"}, false},
		{"latest type", "/api/artifacts/latest/filter", map[string]any{"artifacts": map[string]any{"type": map[string]any{"any_": []string{"table"}}}}, []string{"b1"}, false},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		withFlows := platformtest.New(t, d, flows.Module, artifacts.Module)
		alone := platformtest.New(t, d, artifacts.Module)
		for _, app := range []*platformtest.App{withFlows, alone} {
			create(t, app, map[string]any{"key": "a", "type": "markdown", "data": "a1"})
			create(t, app, map[string]any{"key": "a", "type": "markdown", "data": "a2"})
			create(t, app, map[string]any{"key": "b", "type": "table", "data": "b1", "flow_run_id": "11111111-1111-4111-8111-111111111111"})
			create(t, app, map[string]any{"type": "result", "data": "none"})
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				app := withFlows
				if tt.noFlow {
					app = alone
				}
				var got []artifact
				app.JSON(http.MethodPost, tt.path, tt.give, http.StatusOK, &got)
				data := make([]string, len(got))
				for i, a := range got {
					_ = json.Unmarshal(a.Data, &data[i])
				}
				if !slices.Equal(data, tt.want) {
					t.Fatalf("got %v, want %v", data, tt.want)
				}
				countPath := map[string]string{"/api/artifacts/filter": "/api/artifacts/count", "/api/artifacts/latest/filter": "/api/artifacts/latest/count"}[tt.path]
				var n int
				app.JSON(http.MethodPost, countPath, tt.give, http.StatusOK, &n)
				_, paged := tt.give["limit"]
				_, skipped := tt.give["offset"]
				if !paged && !skipped && n != len(tt.want) {
					t.Fatalf("count = %d, want %d", n, len(tt.want))
				}
			})
		}
	})
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		give       any
		wantStatus int
		wantDetail string
	}{
		{"missing artifact", http.MethodGet, "/api/artifacts/" + missing, nil, 404, `"Artifact not found."`},
		{"malformed id matches no route", http.MethodGet, "/api/artifacts/not-a-uuid", nil, 404, `"Not Found"`},
		{"missing latest", http.MethodGet, "/api/artifacts/nope/latest", nil, 404, `"Artifact not found."`},
		{"patch missing", http.MethodPatch, "/api/artifacts/" + missing, map[string]any{"data": 1}, 404, `"Artifact not found."`},
		{"delete missing", http.MethodDelete, "/api/artifacts/" + missing, nil, 404, `"Artifact not found."`},
		{"get on a post route", http.MethodGet, "/api/artifacts/filter", nil, 405, `"Method Not Allowed"`},
		{"limit too large", http.MethodPost, "/api/artifacts/filter", map[string]any{"limit": 201}, 422, `"Invalid limit: must be less than or equal to 200."`},
	}
	app := platformtest.New(t, config.SQLite, artifacts.Module)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := app.Detail(tt.method, tt.path, tt.give, tt.wantStatus); got != tt.wantDetail {
				t.Fatalf("detail %s, want %s", got, tt.wantDetail)
			}
		})
	}
}

func TestInvalidBodies(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		give     string
		wantType string
		wantLoc  string
	}{
		{"bad key", http.MethodPost, "/api/artifacts/", `{"key": "Has_Upper"}`, "value_error", `["body","key"]`},
		{"extra field", http.MethodPost, "/api/artifacts/", `{"bogus": 1}`, "extra_forbidden", `["body","bogus"]`},
		{"metadata not strings", http.MethodPost, "/api/artifacts/", `{"metadata_": {"a": 1}}`, "string_type", `["body","metadata_"]`},
		{"update key not allowed", http.MethodPatch, "/api/artifacts/" + missing, `{"key": "x"}`, "extra_forbidden", `["body","key"]`},
		{"bad sort", http.MethodPost, "/api/artifacts/filter", `{"sort": "NAME_ASC"}`, "enum", `["body","sort"]`},
		{"latest_id not on artifacts", http.MethodPost, "/api/artifacts/filter", `{"artifacts": {"latest_id": {"any_": []}}}`, "extra_forbidden", `["body","artifacts","latest_id"]`},
		{"id not on collections", http.MethodPost, "/api/artifacts/latest/filter", `{"artifacts": {"id": {"any_": []}}}`, "extra_forbidden", `["body","artifacts","id"]`},
	}
	app := platformtest.New(t, config.SQLite, artifacts.Module)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.Invalid(tt.method, tt.path, tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc {
				t.Fatalf("got %s at %s (%s), want %s at %s", got.Type, got.Loc, got.Msg, tt.wantType, tt.wantLoc)
			}
		})
	}
}
