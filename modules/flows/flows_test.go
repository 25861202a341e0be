package flows_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

type flow struct {
	ID      string         `json:"id"`
	Created string         `json:"created"`
	Updated string         `json:"updated"`
	Name    string         `json:"name"`
	Tags    []string       `json:"tags"`
	Labels  map[string]any `json:"labels"`
}

func seed(t *testing.T, app *platformtest.App) map[string]flow {
	t.Helper()
	out := map[string]flow{}
	for _, give := range []map[string]any{
		{"name": "alpha", "tags": []string{"etl", "daily"}},
		{"name": "Beta-flow", "tags": []string{"etl"}},
		{"name": "gamma"},
	} {
		var f flow
		app.JSON(http.MethodPost, "/api/flows/", give, http.StatusCreated, &f)
		out[f.Name] = f
	}
	return out
}

func names(fs []flow) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

func TestCreateIsIdempotentByName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module)
		var first, second flow
		app.JSON(http.MethodPost, "/api/flows/", map[string]any{"name": "etl", "tags": []string{"a"}}, http.StatusCreated, &first)
		app.JSON(http.MethodPost, "/api/flows", map[string]any{"name": "etl", "tags": []string{"b"}}, http.StatusOK, &second)
		if first.ID != second.ID || len(second.Tags) != 1 || second.Tags[0] != "a" {
			t.Fatalf("second create = %+v, want the first flow %+v unchanged", second, first)
		}
		if first.Labels == nil || first.Created == "" || first.Created[len(first.Created)-1] != 'Z' {
			t.Fatalf("created flow = %+v: want labels {} and a UTC datetime", first)
		}
		var byID, byName flow
		app.JSON(http.MethodGet, "/api/flows/"+first.ID, nil, http.StatusOK, &byID)
		app.JSON(http.MethodGet, "/api/flows/name/etl", nil, http.StatusOK, &byName)
		if byID.ID != first.ID || byID.Created != first.Created || byName.ID != first.ID {
			t.Fatalf("read = %+v / %+v, want %+v", byID, byName, first)
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
		{"missing flow", http.MethodGet, "/api/flows/00000000-0000-4000-8000-000000000000", nil, 404, `"Flow not found"`},
		{"malformed id", http.MethodGet, "/api/flows/not-a-uuid", nil, 404, `"Flow not found"`},
		{"missing by name", http.MethodGet, "/api/flows/name/nope", nil, 404, `"Flow not found"`},
		{"patch missing", http.MethodPatch, "/api/flows/00000000-0000-4000-8000-000000000000", map[string]any{"tags": []string{}}, 404, `"Flow not found"`},
		{"delete missing", http.MethodDelete, "/api/flows/00000000-0000-4000-8000-000000000000", nil, 404, `"Flow not found"`},
		{"limit too large", http.MethodPost, "/api/flows/filter", map[string]any{"limit": 201}, 422, `"Invalid limit: must be less than or equal to 200."`},
		{"negative limit", http.MethodPost, "/api/flows/filter", map[string]any{"limit": -1}, 422, `"Invalid limit: must be greater than or equal to 0."`},
		{"unknown route", http.MethodGet, "/api/nope", nil, 404, `"Not Found"`},
	}
	app := platformtest.New(t, config.SQLite, flows.Module)
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
		name      string
		give      string
		wantType  string
		wantLoc   string
		wantInput string
	}{
		{"missing name", `{}`, "missing", `["body","name"]`, ""},
		{"name not a string", `{"name": 5}`, "string_type", `["body","name"]`, `5`},
		{"extra field", `{"name": "x", "bogus": 1}`, "extra_forbidden", `["body","bogus"]`, ""},
		{"banned character", `{"name": "a/b"}`, "string_pattern_mismatch", `["body","name"]`, ""},
		{"empty name", `{"name": ""}`, "string_pattern_mismatch", `["body","name"]`, ""},
		{"not json", `{name`, "json_invalid", `["body",0]`, ""},
		{"nested label", `{"name": "x", "labels": {"a": {"b": 1}}}`, "string_type", `["body","labels","a"]`, ""},
	}
	app := platformtest.New(t, config.SQLite, flows.Module)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.Invalid(http.MethodPost, "/api/flows/", tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc || (tt.wantInput != "" && string(got.Input) != tt.wantInput) {
				t.Fatalf("got %s at %s (input %s), want %s at %s", got.Type, got.Loc, got.Input, tt.wantType, tt.wantLoc)
			}
		})
	}
	var n int
	app.JSON(http.MethodPost, "/api/flows/count", nil, http.StatusOK, &n)
	if n != 0 {
		t.Fatalf("invalid creates stored %d flows", n)
	}
}

func TestFilterSortAndPaginate(t *testing.T) {
	tests := []struct {
		name string
		give map[string]any
		want []string
	}{
		{"default sort is name ascending (byte order)", map[string]any{}, []string{"Beta-flow", "alpha", "gamma"}},
		{"name desc", map[string]any{"sort": "NAME_DESC"}, []string{"gamma", "alpha", "Beta-flow"}},
		{"null sort and limit mean defaults", map[string]any{"sort": nil, "limit": nil, "flows": nil}, []string{"Beta-flow", "alpha", "gamma"}},
		{"limit and offset", map[string]any{"limit": 1, "offset": 1}, []string{"alpha"}},
		{"limit 0 reads nothing", map[string]any{"limit": 0}, []string{}},
		{"name any", map[string]any{"flows": map[string]any{"name": map[string]any{"any_": []string{"gamma", "alpha"}}}}, []string{"alpha", "gamma"}},
		{"empty any matches nothing", map[string]any{"flows": map[string]any{"name": map[string]any{"any_": []string{}}}}, []string{}},
		{"name like is case-insensitive contains", map[string]any{"flows": map[string]any{"name": map[string]any{"like_": "BETA"}}}, []string{"Beta-flow"}},
		{"tags all", map[string]any{"flows": map[string]any{"tags": map[string]any{"all_": []string{"etl", "daily"}}}}, []string{"alpha"}},
		{"tags is null", map[string]any{"flows": map[string]any{"tags": map[string]any{"is_null_": true}}}, []string{"gamma"}},
		{"or operator", map[string]any{"flows": map[string]any{"operator": "or_",
			"name": map[string]any{"any_": []string{"gamma"}}, "tags": map[string]any{"all_": []string{"daily"}}}}, []string{"alpha", "gamma"}},
		{"no deployments", map[string]any{"flows": map[string]any{"deployment": map[string]any{"is_null_": true}}}, []string{"Beta-flow", "alpha", "gamma"}},
		{"flow runs filter with no runs", map[string]any{"flow_runs": map[string]any{}}, []string{}},
		{"unknown top-level key ignored", map[string]any{"work_queues": nil}, []string{"Beta-flow", "alpha", "gamma"}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module)
		seeded := seed(t, app)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []flow
				app.JSON(http.MethodPost, "/api/flows/filter", tt.give, http.StatusOK, &got)
				if gotNames := names(got); !slices.Equal(gotNames, tt.want) {
					t.Fatalf("got %v, want %v", gotNames, tt.want)
				}
				var n int
				app.JSON(http.MethodPost, "/api/flows/count", tt.give, http.StatusOK, &n)
				if _, paged := tt.give["limit"]; !paged && n != len(tt.want) {
					t.Fatalf("count = %d, want %d", n, len(tt.want))
				}
			})
		}
		var page struct {
			Results             []flow
			Count, Limit, Pages int
			Page                int
		}
		app.JSON(http.MethodPost, "/api/flows/paginate", map[string]any{"page": 2, "limit": 2}, http.StatusOK, &page)
		if page.Count != 3 || page.Pages != 2 || page.Page != 2 || page.Limit != 2 || len(page.Results) != 1 || page.Results[0].Name != "gamma" {
			t.Fatalf("paginate = %+v", page)
		}
		var byID []flow
		app.JSON(http.MethodPost, "/api/flows/filter", map[string]any{"flows": map[string]any{"id": map[string]any{"not_any_": []string{seeded["alpha"].ID}}}}, http.StatusOK, &byID)
		if !slices.Equal(names(byID), []string{"Beta-flow", "gamma"}) {
			t.Fatalf("not_any_ = %v", names(byID))
		}
	})
}

func TestUpdateAndDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module)
		seeded := seed(t, app)
		alpha := seeded["alpha"]
		app.JSON(http.MethodPatch, "/api/flows/"+alpha.ID, map[string]any{"tags": []string{"new"}}, http.StatusNoContent, nil)
		var got flow
		app.JSON(http.MethodGet, "/api/flows/"+alpha.ID, nil, http.StatusOK, &got)
		if !slices.Equal(got.Tags, []string{"new"}) || got.Updated <= alpha.Updated || got.Created != alpha.Created {
			t.Fatalf("after patch = %+v, before %+v", got, alpha)
		}
		if status, body := app.Do(http.MethodPatch, "/api/flows/"+alpha.ID, map[string]any{"labels": map[string]any{}}); status != 422 {
			t.Fatalf("patch with labels = %d %s, want 422 (FlowUpdate has tags only)", status, body)
		}
		app.JSON(http.MethodDelete, "/api/flows/"+alpha.ID, nil, http.StatusNoContent, nil)
		app.JSON(http.MethodGet, "/api/flows/"+alpha.ID, nil, http.StatusNotFound, nil)
		var bulk struct{ Deleted []string }
		app.JSON(http.MethodPost, "/api/flows/bulk_delete", map[string]any{"flows": map[string]any{"name": map[string]any{"like_": "a"}}}, http.StatusOK, &bulk)
		if len(bulk.Deleted) != 2 {
			t.Fatalf("bulk delete = %v, want Beta-flow and gamma", bulk.Deleted)
		}
		var n int
		app.JSON(http.MethodPost, "/api/flows/count", nil, http.StatusOK, &n)
		if n != 0 {
			t.Fatalf("count after deletes = %d", n)
		}
	})
}
