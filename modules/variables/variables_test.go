package variables_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/modules/variables"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

type variable struct {
	ID      string          `json:"id"`
	Created string          `json:"created"`
	Updated string          `json:"updated"`
	Name    string          `json:"name"`
	Value   json.RawMessage `json:"value"`
	Tags    []string        `json:"tags"`
}

const missingID = "00000000-0000-4000-8000-000000000000"

// seed creates variables whose names sort the same under any collation.
func seed(t *testing.T, app *platformtest.App) map[string]variable {
	t.Helper()
	out := map[string]variable{}
	for _, give := range []map[string]any{
		{"name": "alpha", "value": map[string]any{"k": []any{1, "x"}}, "tags": []string{"etl", "daily"}},
		{"name": "beta_var", "value": 42, "tags": []string{"etl"}},
		{"name": "gamma", "value": "text"},
	} {
		var v variable
		app.JSON(http.MethodPost, "/api/variables/", give, http.StatusCreated, &v)
		out[v.Name] = v
	}
	return out
}

func names(vs []variable) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.Name
	}
	return out
}

func TestCreateAndRead(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantValue string
		wantTags  []string
	}{
		{"object", `{"name": "obj", "value": {"b": [1, 2.5, true, null], "a": {"c": "d"}}, "tags": ["x"]}`, `{"b":[1,2.5,true,null],"a":{"c":"d"}}`, []string{"x"}},
		{"list", `{"name": "lst", "value": [1, "two", 3.0]}`, `[1,"two",3.0]`, []string{}},
		{"string", `{"name": "str", "value": "hello"}`, `"hello"`, []string{}},
		{"integer", `{"name": "int", "value": 12}`, `12`, []string{}},
		{"float", `{"name": "flt", "value": 1.5}`, `1.5`, []string{}},
		{"bool", `{"name": "bool", "value": false}`, `false`, []string{}},
		{"null", `{"name": "nul", "value": null}`, `null`, []string{}},
		{"dashes, underscores and digits", `{"name": "a-b_c-9", "value": 1}`, `1`, []string{}},
		{"largest value", `{"name": "big", "value": "` + strings.Repeat("a", 4998) + `"}`, `"` + strings.Repeat("a", 4998) + `"`, []string{}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, variables.Module)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var created, byID, byName variable
				app.JSON(http.MethodPost, "/api/variables/", tt.give, http.StatusCreated, &created)
				app.JSON(http.MethodGet, "/api/variables/"+created.ID, nil, http.StatusOK, &byID)
				app.JSON(http.MethodGet, "/api/variables/name/"+created.Name, nil, http.StatusOK, &byName)
				for _, got := range []variable{created, byID, byName} {
					if !jsonEqual(t, got.Value, tt.wantValue) || !slices.Equal(got.Tags, tt.wantTags) {
						t.Fatalf("got value %s tags %v, want %s %v", got.Value, got.Tags, tt.wantValue, tt.wantTags)
					}
					if got.ID != created.ID || got.Created != created.Created || !strings.HasSuffix(got.Created, "Z") {
						t.Fatalf("read %+v, created %+v", got, created)
					}
				}
			})
		}
	})
}

func TestEmptyNameIsAllowedButNotAddressable(t *testing.T) {
	app := platformtest.New(t, config.SQLite, variables.Module)
	var v variable
	app.JSON(http.MethodPost, "/api/variables/", map[string]any{"name": "", "value": 1}, http.StatusCreated, &v)
	app.JSON(http.MethodGet, "/api/variables/"+v.ID, nil, http.StatusOK, nil)
	if status, body := app.Do(http.MethodGet, "/api/variables/name/", nil); status != 404 || !strings.Contains(string(body), `"Not Found"`) {
		t.Fatalf("GET /variables/name/ = %d %s, want Prefect's 404 Not Found (no route)", status, body)
	}
}

func TestObjectKeyOrderIsKeptOnSQLite(t *testing.T) {
	app := platformtest.New(t, config.SQLite, variables.Module)
	status, body := app.Do(http.MethodPost, "/api/variables/", `{"name": "o", "value": {"z": 1, "a": 2}}`)
	if status != http.StatusCreated || !strings.Contains(string(body), `"value":{"z":1,"a":2}`) {
		t.Fatalf("got %d %s", status, body)
	}
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
		{"duplicate name", http.MethodPost, "/api/variables/", map[string]any{"name": "alpha", "value": 1}, 409, `"A variable with the name 'alpha' already exists."`},
		{"missing id", http.MethodGet, "/api/variables/" + missingID, nil, 404, `"Variable not found."`},
		{"malformed id matches no route", http.MethodGet, "/api/variables/not-a-uuid", nil, 404, `"Not Found"`},
		{"missing name", http.MethodGet, "/api/variables/name/nope", nil, 404, `"Variable not found."`},
		{"patch missing id", http.MethodPatch, "/api/variables/" + missingID, map[string]any{"value": 1}, 404, `"Variable not found."`},
		{"patch missing name", http.MethodPatch, "/api/variables/name/nope", map[string]any{"value": 1}, 404, `"Variable not found."`},
		{"patch missing name with null tags", http.MethodPatch, "/api/variables/name/nope", map[string]any{"tags": nil}, 404, `"Variable not found."`},
		{"delete missing id", http.MethodDelete, "/api/variables/" + missingID, nil, 404, `"Variable not found."`},
		{"delete missing name", http.MethodDelete, "/api/variables/name/nope", nil, 404, `"Variable not found."`},
		{"rename to a taken name", http.MethodPatch, "/api/variables/name/gamma", map[string]any{"name": "alpha"}, 409, `"Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."`},
		{"null name", http.MethodPatch, "/api/variables/name/gamma", map[string]any{"name": nil}, 409, `"Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."`},
		{"null tags", http.MethodPatch, "/api/variables/name/gamma", map[string]any{"tags": nil}, 409, `"Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."`},
		{"limit too large", http.MethodPost, "/api/variables/filter", map[string]any{"limit": 201}, 422, `"Invalid limit: must be less than or equal to 200."`},
		{"negative limit", http.MethodPost, "/api/variables/filter", map[string]any{"limit": -1}, 422, `"Invalid limit: must be greater than or equal to 0."`},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, variables.Module)
		seed(t, app)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if got := app.Detail(tt.method, tt.path, tt.give, tt.wantStatus); got != tt.wantDetail {
					t.Fatalf("detail %s, want %s", got, tt.wantDetail)
				}
			})
		}
		var gamma variable
		app.JSON(http.MethodGet, "/api/variables/name/gamma", nil, http.StatusOK, &gamma)
		if !slices.Equal(gamma.Tags, []string{}) || !jsonEqual(t, gamma.Value, `"text"`) {
			t.Fatalf("failed updates changed gamma: %+v", gamma)
		}
	})
}

func TestInvalidBodies(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		path     string
		give     string
		wantType string
		wantLoc  string
		wantMsg  string
	}{
		{"missing name", "POST", "/api/variables/", `{"value": 1}`, "missing", `["body","name"]`, "Field required"},
		{"missing value", "POST", "/api/variables/", `{"name": "x"}`, "missing", `["body","value"]`, "Field required"},
		{"null name", "POST", "/api/variables/", `{"name": null, "value": 1}`, "string_type", `["body","name"]`, "Input should be a valid string"},
		{"name not a string", "POST", "/api/variables/", `{"name": 5, "value": 1}`, "string_type", `["body","name"]`, "Input should be a valid string"},
		{"uppercase name", "POST", "/api/variables/", `{"name": "Bad", "value": 1}`, "value_error", `["body","name"]`,
			"Value error, Variable name must only contain lowercase letters, numbers, and dashes or underscores."},
		{"name with a dot", "PATCH", "/api/variables/name/x", `{"name": "a.b"}`, "value_error", `["body","name"]`,
			"Value error, Variable name must only contain lowercase letters, numbers, and dashes or underscores."},
		{"name too long", "POST", "/api/variables/", `{"name": "` + strings.Repeat("a", 256) + `", "value": 1}`, "too_long", `["body","name"]`,
			"Value should have at most 255 items after validation, not 256"},
		{"value too large", "POST", "/api/variables/", `{"name": "x", "value": "` + strings.Repeat("a", 4999) + `"}`, "value_error", `["body","value"]`,
			"Value error, Variable value must be less than 5000 characters"},
		{"value too large in UTF-8 bytes", "POST", "/api/variables/", `{"name": "x", "value": "` + strings.Repeat("é", 2500) + `"}`, "value_error", `["body","value"]`,
			"Value error, Variable value must be less than 5000 characters"},
		{"patch value too large", "PATCH", "/api/variables/name/x", `{"value": ["` + strings.Repeat("a", 4997) + `"]}`, "value_error", `["body","value"]`,
			"Value error, Variable value must be less than 5000 characters"},
		{"integer beyond 64 bits", "POST", "/api/variables/", `{"name": "x", "value": {"n": 123456789012345678901234567890}}`, "value_error", `["body","value"]`,
			"Value error, Variable value must be serializable to JSON"},
		{"null tags on create", "POST", "/api/variables/", `{"name": "x", "value": 1, "tags": null}`, "list_type", `["body","tags"]`, "Input should be a valid list"},
		{"tag not a string", "POST", "/api/variables/", `{"name": "x", "value": 1, "tags": ["a", 2]}`, "string_type", `["body","tags",1]`, "Input should be a valid string"},
		{"extra field", "POST", "/api/variables/", `{"name": "x", "value": 1, "bogus": 1}`, "extra_forbidden", `["body","bogus"]`, "Extra inputs are not permitted"},
		{"extra field on patch", "PATCH", "/api/variables/name/x", `{"bogus": 1}`, "extra_forbidden", `["body","bogus"]`, "Extra inputs are not permitted"},
		{"not json", "POST", "/api/variables/", `{name`, "json_invalid", `["body",0]`, "JSON decode error"},
		{"bad sort", "POST", "/api/variables/filter", `{"sort": "BOGUS"}`, "enum", `["body","sort"]`,
			"Input should be 'CREATED_DESC', 'UPDATED_DESC', 'NAME_DESC' or 'NAME_ASC'"},
		{"negative offset", "POST", "/api/variables/filter", `{"offset": -1}`, "greater_than_equal", `["body","offset"]`, "Input should be greater than or equal to 0"},
		{"bad operator", "POST", "/api/variables/filter", `{"variables": {"operator": "xor_"}}`, "enum", `["body","variables","operator"]`, "Input should be 'and_' or 'or_'"},
		{"bad tags operator", "POST", "/api/variables/count", `{"variables": {"tags": {"operator": "xor_"}}}`, "enum", `["body","variables","tags","operator"]`, "Input should be 'and_' or 'or_'"},
		{"unknown filter field", "POST", "/api/variables/filter", `{"variables": {"bogus": {}}}`, "extra_forbidden", `["body","variables","bogus"]`, "Extra inputs are not permitted"},
	}
	app := platformtest.New(t, config.SQLite, variables.Module)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.Invalid(tt.method, tt.path, tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc || got.Msg != tt.wantMsg {
				t.Fatalf("got %s at %s: %s; want %s at %s: %s", got.Type, got.Loc, got.Msg, tt.wantType, tt.wantLoc, tt.wantMsg)
			}
		})
	}
	var n int
	app.JSON(http.MethodPost, "/api/variables/count", nil, http.StatusOK, &n)
	if n != 0 {
		t.Fatalf("invalid creates stored %d variables", n)
	}
}

func TestFilterSortAndCount(t *testing.T) {
	tests := []struct {
		name string
		give map[string]any
		want []string
	}{
		{"default sort is name ascending", map[string]any{}, []string{"alpha", "beta_var", "gamma"}},
		{"name desc", map[string]any{"sort": "NAME_DESC"}, []string{"gamma", "beta_var", "alpha"}},
		{"created desc", map[string]any{"sort": "CREATED_DESC"}, []string{"gamma", "beta_var", "alpha"}},
		{"updated desc", map[string]any{"sort": "UPDATED_DESC"}, []string{"gamma", "beta_var", "alpha"}},
		{"null sort, limit and filter mean defaults", map[string]any{"sort": nil, "limit": nil, "variables": nil}, []string{"alpha", "beta_var", "gamma"}},
		{"limit and offset", map[string]any{"limit": 1, "offset": 1}, []string{"beta_var"}},
		{"limit zero", map[string]any{"limit": 0}, []string{}},
		{"name any", map[string]any{"variables": map[string]any{"name": map[string]any{"any_": []string{"gamma", "alpha"}}}}, []string{"alpha", "gamma"}},
		{"empty name any matches nothing", map[string]any{"variables": map[string]any{"name": map[string]any{"any_": []string{}}}}, []string{}},
		{"name like is case-insensitive contains", map[string]any{"variables": map[string]any{"name": map[string]any{"like_": "VAR"}}}, []string{"beta_var"}},
		{"underscore in like is a wildcard", map[string]any{"variables": map[string]any{"name": map[string]any{"like_": "l_h"}}}, []string{"alpha"}},
		{"empty like is no condition", map[string]any{"variables": map[string]any{"name": map[string]any{"like_": ""}}}, []string{"alpha", "beta_var", "gamma"}},
		{"tags all", map[string]any{"variables": map[string]any{"tags": map[string]any{"all_": []string{"etl", "daily"}}}}, []string{"alpha"}},
		{"tags all one", map[string]any{"variables": map[string]any{"tags": map[string]any{"all_": []string{"etl"}}}}, []string{"alpha", "beta_var"}},
		{"tags is null", map[string]any{"variables": map[string]any{"tags": map[string]any{"is_null_": true}}}, []string{"gamma"}},
		{"tags is not null", map[string]any{"variables": map[string]any{"tags": map[string]any{"is_null_": false}}}, []string{"alpha", "beta_var"}},
		{"tags or", map[string]any{"variables": map[string]any{"tags": map[string]any{"operator": "or_", "all_": []string{"daily"}, "is_null_": true}}}, []string{"alpha", "gamma"}},
		{"or operator", map[string]any{"variables": map[string]any{"operator": "or_",
			"name": map[string]any{"any_": []string{"gamma"}}, "tags": map[string]any{"all_": []string{"daily"}}}}, []string{"alpha", "gamma"}},
		{"and operator", map[string]any{"variables": map[string]any{
			"name": map[string]any{"like_": "a"}, "tags": map[string]any{"all_": []string{"etl"}}}}, []string{"alpha", "beta_var"}},
		{"unknown top-level key ignored", map[string]any{"flows": map[string]any{}}, []string{"alpha", "beta_var", "gamma"}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, variables.Module)
		seeded := seed(t, app)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []variable
				app.JSON(http.MethodPost, "/api/variables/filter", tt.give, http.StatusOK, &got)
				if gotNames := names(got); !slices.Equal(gotNames, tt.want) {
					t.Fatalf("got %v, want %v", gotNames, tt.want)
				}
				var n int
				app.JSON(http.MethodPost, "/api/variables/count", tt.give, http.StatusOK, &n)
				if _, paged := tt.give["limit"]; !paged && n != len(tt.want) {
					t.Fatalf("count = %d, want %d", n, len(tt.want))
				}
			})
		}
		var byID []variable
		give := map[string]any{"variables": map[string]any{"id": map[string]any{"any_": []string{seeded["gamma"].ID, seeded["alpha"].ID}}}}
		app.JSON(http.MethodPost, "/api/variables/filter", give, http.StatusOK, &byID)
		if !slices.Equal(names(byID), []string{"alpha", "gamma"}) {
			t.Fatalf("id any_ = %v", names(byID))
		}
	})
}

func TestUpdate(t *testing.T) {
	tests := []struct {
		name      string
		path      func(v variable) string
		give      string
		wantName  string
		wantValue string
		wantTags  []string
	}{
		{"value by id", byIDPath, `{"value": {"new": [1, 2]}}`, "alpha", `{"new":[1,2]}`, []string{"etl", "daily"}},
		{"value by name", byNamePath, `{"value": "s"}`, "alpha", `"s"`, []string{"etl", "daily"}},
		{"null value", byNamePath, `{"value": null}`, "alpha", `null`, []string{"etl", "daily"}},
		{"tags only", byIDPath, `{"tags": ["t"]}`, "alpha", `{"k":[1,"x"]}`, []string{"t"}},
		{"rename by name", byNamePath, `{"name": "renamed"}`, "renamed", `{"k":[1,"x"]}`, []string{"etl", "daily"}},
		{"everything by id", byIDPath, `{"name": "all", "value": 3, "tags": []}`, "all", `3`, []string{}},
		{"empty body bumps updated only", byNamePath, `{}`, "alpha", `{"k":[1,"x"]}`, []string{"etl", "daily"}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				app := platformtest.New(t, d, variables.Module)
				before := seed(t, app)["alpha"]
				app.JSON(http.MethodPatch, tt.path(before), tt.give, http.StatusNoContent, nil)
				var got variable
				app.JSON(http.MethodGet, "/api/variables/"+before.ID, nil, http.StatusOK, &got)
				if got.Name != tt.wantName || !jsonEqual(t, got.Value, tt.wantValue) || !slices.Equal(got.Tags, tt.wantTags) {
					t.Fatalf("after patch = %+v, want %s %s %v", got, tt.wantName, tt.wantValue, tt.wantTags)
				}
				if !later(t, got.Updated, before.Updated) || got.Created != before.Created {
					t.Fatalf("timestamps after patch = %s/%s, before %s/%s", got.Created, got.Updated, before.Created, before.Updated)
				}
			})
		}
	})
}

func TestDelete(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, variables.Module)
		seeded := seed(t, app)
		app.JSON(http.MethodDelete, "/api/variables/"+seeded["alpha"].ID, nil, http.StatusNoContent, nil)
		app.JSON(http.MethodDelete, "/api/variables/name/gamma", nil, http.StatusNoContent, nil)
		app.JSON(http.MethodGet, "/api/variables/"+seeded["alpha"].ID, nil, http.StatusNotFound, nil)
		app.JSON(http.MethodDelete, "/api/variables/name/gamma", nil, http.StatusNotFound, nil)
		var left []variable
		app.JSON(http.MethodPost, "/api/variables/filter", nil, http.StatusOK, &left)
		if !slices.Equal(names(left), []string{"beta_var"}) {
			t.Fatalf("left after deletes = %v", names(left))
		}
		// The name is free again.
		app.JSON(http.MethodPost, "/api/variables/", map[string]any{"name": "alpha", "value": 1}, http.StatusCreated, nil)
	})
}

func byIDPath(v variable) string   { return "/api/variables/" + v.ID }
func byNamePath(v variable) string { return "/api/variables/name/" + v.Name }

// jsonEqual compares JSON values, ignoring spacing and (as PostgreSQL's
// JSONB does not keep it) object key order.
func jsonEqual(t *testing.T, got json.RawMessage, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("decode %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("decode %s: %v", want, err)
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

// later reports whether datetime a is after b.
func later(t *testing.T, a, b string) bool {
	t.Helper()
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA != nil || errB != nil {
		t.Fatalf("parse %q, %q: %v, %v", a, b, errA, errB)
	}
	return ta.After(tb)
}
