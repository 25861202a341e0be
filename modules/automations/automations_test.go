package automations_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/prefect-server/prefect-server/modules/automations"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

const deploymentID = "8d2e3c1a-1111-4b5e-9f3e-0c6a5d6e7f80"

type automation struct {
	ID               string            `json:"id"`
	Name             string            `json:"name"`
	Enabled          bool              `json:"enabled"`
	Tags             []string          `json:"tags"`
	Trigger          map[string]any    `json:"trigger"`
	Actions          []map[string]any  `json:"actions"`
	ActionsOnTrigger []json.RawMessage `json:"actions_on_trigger"`
	Created          string            `json:"created"`
}

func body(name string, tags []string, trigger map[string]any, actions ...map[string]any) map[string]any {
	if actions == nil {
		actions = []map[string]any{}
	}
	if tags == nil {
		tags = []string{}
	}
	return map[string]any{"name": name, "tags": tags, "trigger": trigger, "actions": actions}
}

func reactive(expect ...string) map[string]any {
	if expect == nil {
		expect = []string{}
	}
	return map[string]any{"type": "event", "posture": "Reactive", "expect": expect,
		"match": map[string]any{"prefect.resource.id": "prefect.flow-run.*"}, "within": "PT1M"}
}

func runDeployment() map[string]any {
	return map[string]any{"type": "run-deployment", "deployment_id": deploymentID}
}

func names(as []automation) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name
	}
	return out
}

func TestCreateFillsPrefectDefaults(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, automations.Module)
		give := body("a", nil, map[string]any{"type": "event", "posture": "Proactive", "id": "00000000-0000-4000-8000-000000000001"})
		give["tags"] = []string{"x"}
		var got automation
		app.JSON(http.MethodPost, "/api/automations/", give, http.StatusCreated, &got)
		tr := got.Trigger
		if !got.Enabled || tr["within"] != 10.0 || tr["threshold"] != 1.0 || tr["id"] == "00000000-0000-4000-8000-000000000001" ||
			len(tr["match"].(map[string]any)) != 0 || len(tr["expect"].([]any)) != 0 || got.ActionsOnTrigger == nil {
			t.Fatalf("created %+v", got)
		}
		var read automation
		app.JSON(http.MethodGet, "/api/automations/"+got.ID, nil, http.StatusOK, &read)
		if read.Trigger["id"] != tr["id"] || !slices.Equal(read.Tags, []string{"x"}) {
			t.Fatalf("read back %+v, created %+v", read, got)
		}
	})
}

func TestUpdatePatchDeleteAndRelatedResources(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, automations.Module)
		give := body("owned", nil, reactive("prefect.flow-run.Failed"), runDeployment())
		give["owner_resource"] = "prefect.deployment." + deploymentID
		var a automation
		app.JSON(http.MethodPost, "/api/automations/", give, http.StatusCreated, &a)
		var other automation
		app.JSON(http.MethodPost, "/api/automations/", body("runs-it", nil, reactive("prefect.flow-run.Failed"), runDeployment()), http.StatusCreated, &other)

		var related []automation
		app.JSON(http.MethodGet, "/api/automations/related-to/prefect.deployment."+deploymentID, nil, http.StatusOK, &related)
		if !slices.Equal(names(related), []string{"owned", "runs-it"}) {
			t.Fatalf("related = %v", names(related))
		}

		// Replacing the actions drops the selected deployment but not ownership.
		app.JSON(http.MethodPut, "/api/automations/"+a.ID, body("renamed", []string{"t"}, reactive("prefect.flow-run.Failed")), http.StatusNoContent, nil)
		app.JSON(http.MethodPut, "/api/automations/"+other.ID, body("runs-it", nil, reactive("prefect.flow-run.Failed")), http.StatusNoContent, nil)
		app.JSON(http.MethodGet, "/api/automations/related-to/prefect.deployment."+deploymentID, nil, http.StatusOK, &related)
		if !slices.Equal(names(related), []string{"renamed"}) {
			t.Fatalf("related after updates = %v", names(related))
		}

		app.JSON(http.MethodPatch, "/api/automations/"+a.ID, map[string]any{"enabled": false}, http.StatusNoContent, nil)
		var got automation
		app.JSON(http.MethodGet, "/api/automations/"+a.ID, nil, http.StatusOK, &got)
		if got.Enabled || got.Name != "renamed" || !slices.Equal(got.Tags, []string{"t"}) || got.Trigger["id"] == a.Trigger["id"] {
			t.Fatalf("after put and patch = %+v", got)
		}

		app.JSON(http.MethodDelete, "/api/automations/owned-by/prefect.deployment."+deploymentID, nil, http.StatusAccepted, nil)
		app.JSON(http.MethodGet, "/api/automations/"+a.ID, nil, http.StatusNotFound, nil)
		app.JSON(http.MethodDelete, "/api/automations/"+other.ID, nil, http.StatusNoContent, nil)
		app.JSON(http.MethodDelete, "/api/automations/"+other.ID, nil, http.StatusNotFound, nil)
		app.JSON(http.MethodPatch, "/api/automations/"+other.ID, map[string]any{}, http.StatusNotFound, nil)
		var n int
		app.JSON(http.MethodPost, "/api/automations/count", nil, http.StatusOK, &n)
		if n != 0 {
			t.Fatalf("count after deletes = %d", n)
		}
	})
}

func TestFilterSortAndCount(t *testing.T) {
	tests := []struct {
		name string
		give map[string]any
		want []string
	}{
		{"default sort is name ascending", map[string]any{}, []string{"alpha", "beta", "gamma"}},
		{"name desc", map[string]any{"sort": "NAME_DESC"}, []string{"gamma", "beta", "alpha"}},
		{"created desc", map[string]any{"sort": "CREATED_DESC"}, []string{"gamma", "beta", "alpha"}},
		{"limit and offset", map[string]any{"limit": 1, "offset": 1}, []string{"beta"}},
		{"name any", map[string]any{"automations": map[string]any{"name": map[string]any{"any_": []string{"gamma", "alpha"}}}}, []string{"alpha", "gamma"}},
		{"tags all", map[string]any{"automations": map[string]any{"tags": map[string]any{"all_": []string{"etl", "daily"}}}}, []string{"alpha"}},
		{"tags any", map[string]any{"automations": map[string]any{"tags": map[string]any{"any_": []string{"daily", "x"}}}}, []string{"alpha"}},
		{"tags is null", map[string]any{"automations": map[string]any{"tags": map[string]any{"is_null_": true}}}, []string{"gamma"}},
		{"created before", map[string]any{"automations": map[string]any{"created": map[string]any{"before_": "2000-01-01T00:00:00Z"}}}, []string{}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, automations.Module)
		for _, a := range []map[string]any{
			body("alpha", []string{"etl", "daily"}, reactive()),
			body("beta", []string{"etl"}, reactive()),
			body("gamma", nil, reactive()),
		} {
			app.JSON(http.MethodPost, "/api/automations/", a, http.StatusCreated, nil)
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []automation
				app.JSON(http.MethodPost, "/api/automations/filter", tt.give, http.StatusOK, &got)
				if !slices.Equal(names(got), tt.want) {
					t.Fatalf("got %v, want %v", names(got), tt.want)
				}
			})
		}
		var n int
		app.JSON(http.MethodPost, "/api/automations/count", map[string]any{"automations": map[string]any{"tags": map[string]any{"all_": []string{"etl"}}}}, http.StatusOK, &n)
		if n != 2 {
			t.Fatalf("count = %d, want 2", n)
		}
	})
}

func TestInvalidBodies(t *testing.T) {
	ev := map[string]any{"type": "event", "posture": "Reactive"}
	tests := []struct {
		name     string
		give     map[string]any
		wantType string
		wantLoc  string
		wantMsg  string
	}{
		{"missing trigger", map[string]any{"name": "x", "actions": []any{}}, "missing", `["body","trigger"]`, "Field required"},
		{"unknown trigger type", body("x", nil, map[string]any{"type": "bogus"}), "literal_error", `["body","trigger","EventTrigger","type"]`, "Input should be 'event'"},
		{"missing posture", body("x", nil, map[string]any{"type": "event"}), "missing", `["body","trigger","EventTrigger","posture"]`, "Field required"},
		{"metric posture", body("x", nil, map[string]any{"type": "event", "posture": "Metric"}), "literal_error", `["body","trigger","EventTrigger","posture"]`, "Input should be Posture.Reactive or Posture.Proactive"},
		{"short proactive window", body("x", nil, map[string]any{"type": "event", "posture": "Proactive", "within": 5}), "value_error", `["body","trigger","EventTrigger"]`,
			"Value error, `within` for Proactive triggers must be greater than or equal to 10 seconds"},
		{"negative within", body("x", nil, map[string]any{"type": "event", "posture": "Reactive", "within": -1}), "greater_than_equal", `["body","trigger","EventTrigger","within"]`,
			"Input should be greater than or equal to 0 seconds"},
		{"unknown action", body("x", nil, ev, map[string]any{"type": "nope"}), "literal_error", `["body","actions",0,"DoNothing","type"]`, "Input should be 'do-nothing'"},
		{"selected without id", body("x", nil, ev, map[string]any{"type": "pause-deployment"}), "literal_error", `["body","actions",0,"DoNothing","type"]`, "Input should be 'do-nothing'"},
		{"extra field", map[string]any{"name": "x", "trigger": ev, "actions": []any{}, "bogus": 1}, "extra_forbidden", `["body","bogus"]`, "Extra inputs are not permitted"},
		{"inferred run-deployment loop", body("x", nil, map[string]any{"type": "event", "posture": "Reactive", "expect": []string{"prefect.flow-run.*"}},
			map[string]any{"type": "run-deployment", "source": "inferred"}), "value_error", `["body"]`,
			"Value error, Running an inferred deployment from a flow run state change event will lead to an infinite loop of flow runs.  Please choose a specific deployment and add additional filtering labels to the match or match_related for this automation's trigger."},
	}
	app := platformtest.New(t, config.SQLite, automations.Module)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.Invalid(http.MethodPost, "/api/automations/", tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc || got.Msg != tt.wantMsg {
				t.Fatalf("got %s at %s: %s; want %s at %s: %s", got.Type, got.Loc, got.Msg, tt.wantType, tt.wantLoc, tt.wantMsg)
			}
		})
	}
	var n int
	app.JSON(http.MethodPost, "/api/automations/count", nil, http.StatusOK, &n)
	if n != 0 {
		t.Fatalf("invalid creates stored %d automations", n)
	}
}

func TestTemplatesValidate(t *testing.T) {
	app := platformtest.New(t, config.SQLite, automations.Module)
	for _, path := range []string{"/api/templates/validate", "/api/automations/templates/validate"} {
		app.JSON(http.MethodPost, path, `"Hello {{ flow_run.name }}"`, http.StatusNoContent, nil)
		var got struct {
			Error struct {
				Line   int    `json:"line"`
				Source string `json:"source"`
			} `json:"error"`
		}
		app.JSON(http.MethodPost, path, `"a\n{{ x | }}"`, http.StatusUnprocessableEntity, &got)
		if got.Error.Line != 2 || got.Error.Source != "a\n{{ x | }}" {
			t.Fatalf("%s: invalid template answer %+v", path, got)
		}
	}
}
