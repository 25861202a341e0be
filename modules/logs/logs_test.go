package logs_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/prefect-server/prefect-server/modules/logs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

const (
	flowRun = "11111111-1111-4111-8111-111111111111"
	taskRun = "22222222-2222-4222-8222-222222222222"
)

type logLine struct {
	ID        string  `json:"id"`
	Created   string  `json:"created"`
	Name      string  `json:"name"`
	Level     int     `json:"level"`
	Message   string  `json:"message"`
	Timestamp string  `json:"timestamp"`
	FlowRunID *string `json:"flow_run_id"`
	TaskRunID *string `json:"task_run_id"`
}

func seed(t *testing.T, app *platformtest.App) {
	t.Helper()
	app.JSON(http.MethodPost, "/api/logs/", []map[string]any{
		{"name": "prefect.flow_runs", "level": 10, "message": "debug line", "timestamp": "2024-05-01T12:00:00Z", "flow_run_id": flowRun},
		{"name": "prefect.flow_runs", "level": 20, "message": "Hello world", "timestamp": "2024-05-01T12:00:01+00:00", "flow_run_id": flowRun},
		{"name": "prefect.task_runs", "level": 30, "message": "task 50% warning", "timestamp": "2024-05-01T12:00:02.5Z", "flow_run_id": flowRun, "task_run_id": taskRun},
		{"name": "other", "level": 40, "message": "an ERROR\x00 happened", "timestamp": "2024-05-01T14:00:03+02:00"},
	}, http.StatusCreated, nil)
}

func messages(ls []logLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Message
	}
	return out
}

func TestCreateAndRead(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, logs.Module)
		status, body := app.Do(http.MethodPost, "/api/logs/", []any{})
		if status != http.StatusCreated || string(body) != "null\n" {
			t.Fatalf("empty create = %d %s, want 201 null", status, body)
		}
		seed(t, app)
		var got []logLine
		app.JSON(http.MethodPost, "/api/logs/filter", nil, http.StatusOK, &got)
		if len(got) != 4 || got[0].Message != "debug line" || got[3].Message != "an ERROR happened" {
			t.Fatalf("logs = %v, want 4 in time order without the null byte", messages(got))
		}
		first, third := got[0], got[2]
		if first.ID == "" || first.Created == "" || first.Timestamp != "2024-05-01T12:00:00Z" || first.TaskRunID != nil ||
			first.FlowRunID == nil || *first.FlowRunID != flowRun || first.Level != 10 || first.Name != "prefect.flow_runs" {
			t.Fatalf("first log = %+v", first)
		}
		if third.Timestamp != "2024-05-01T12:00:02.500000Z" || third.TaskRunID == nil || *third.TaskRunID != taskRun {
			t.Fatalf("third log = %+v", third)
		}
	})
}

func TestFilterAndSort(t *testing.T) {
	tests := []struct {
		name string
		give map[string]any
		want []string
	}{
		{"default is timestamp ascending", map[string]any{}, []string{"debug line", "Hello world", "task 50% warning", "an ERROR happened"}},
		{"timestamp desc with limit and offset", map[string]any{"sort": "TIMESTAMP_DESC", "limit": 2, "offset": 1}, []string{"task 50% warning", "Hello world"}},
		{"level ge", map[string]any{"logs": map[string]any{"level": map[string]any{"ge_": 30}}}, []string{"task 50% warning", "an ERROR happened"}},
		{"level range", map[string]any{"logs": map[string]any{"level": map[string]any{"ge_": 20, "le_": 30}}}, []string{"Hello world", "task 50% warning"}},
		{"timestamp window, inclusive", map[string]any{"logs": map[string]any{"timestamp": map[string]any{
			"after_": "2024-05-01T12:00:01Z", "before_": "2024-05-01T12:00:03Z"}}}, []string{"Hello world", "task 50% warning", "an ERROR happened"}},
		{"flow run any", map[string]any{"logs": map[string]any{"flow_run_id": map[string]any{"any_": []string{flowRun}}}},
			[]string{"debug line", "Hello world", "task 50% warning"}},
		{"flow run any empty", map[string]any{"logs": map[string]any{"flow_run_id": map[string]any{"any_": []string{}}}}, []string{}},
		{"task run any", map[string]any{"logs": map[string]any{"task_run_id": map[string]any{"any_": []string{taskRun}}}}, []string{"task 50% warning"}},
		{"task run is null", map[string]any{"logs": map[string]any{"task_run_id": map[string]any{"is_null_": true}, "level": map[string]any{"le_": 20}}},
			[]string{"debug line", "Hello world"}},
		{"task run not null", map[string]any{"logs": map[string]any{"task_run_id": map[string]any{"is_null_": false}}}, []string{"task 50% warning"}},
		{"or operator", map[string]any{"logs": map[string]any{"operator": "or_", "level": map[string]any{"ge_": 40},
			"task_run_id": map[string]any{"any_": []string{taskRun}}}}, []string{"task 50% warning", "an ERROR happened"}},
		{"empty criterion is true under or_", map[string]any{"logs": map[string]any{"operator": "or_", "level": map[string]any{},
			"flow_run_id": map[string]any{"any_": []string{}}}}, []string{"debug line", "Hello world", "task 50% warning", "an ERROR happened"}},
		{"null sub-filters ignored", map[string]any{"logs": map[string]any{"level": nil, "text": nil}, "limit": nil, "offset": nil},
			[]string{"debug line", "Hello world", "task 50% warning", "an ERROR happened"}},
		{"text includes any term, case-insensitive", map[string]any{"logs": map[string]any{"text": map[string]any{"query": "HELLO error"}}},
			[]string{"Hello world", "an ERROR happened"}},
		{"text excludes", map[string]any{"logs": map[string]any{"text": map[string]any{"query": "-line !prefect"}}}, []string{"an ERROR happened"}},
		{"text phrase and name", map[string]any{"logs": map[string]any{"text": map[string]any{"query": `"world prefect.flow"`}}}, []string{"Hello world"}},
		{"text percent is literal", map[string]any{"logs": map[string]any{"text": map[string]any{"query": "50%"}}}, []string{"task 50% warning"}},
		{"text required", map[string]any{"logs": map[string]any{"text": map[string]any{"query": "+task +warning"}}}, []string{"task 50% warning"}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, logs.Module)
		seed(t, app)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var got []logLine
				app.JSON(http.MethodPost, "/api/logs/filter", tt.give, http.StatusOK, &got)
				if !slices.Equal(messages(got), tt.want) {
					t.Fatalf("got %q, want %q", messages(got), tt.want)
				}
			})
		}
	})
}

func TestInvalid(t *testing.T) {
	tests := []struct {
		name     string
		path     string
		give     string
		wantType string
		wantLoc  string
	}{
		{"not a list", "/api/logs/", `{"name": "x"}`, "is_instance_of", `["body"]`},
		{"missing field", "/api/logs/", `[{"name": "x", "level": 1, "timestamp": "2024-01-01T00:00:00Z"}]`, "missing", `["body",0,"message"]`},
		{"extra field", "/api/logs/", `[{"name": "x", "level": 1, "message": "m", "timestamp": "2024-01-01T00:00:00Z", "bogus": 1}]`, "extra_forbidden", `["body",0,"bogus"]`},
		{"level not an int", "/api/logs/", `[{"name": "x", "level": "high", "message": "m", "timestamp": "2024-01-01T00:00:00Z"}]`, "int_type", `["body",0,"level"]`},
		{"bad sort", "/api/logs/filter", `{"sort": "NAME_ASC"}`, "enum", `["body","sort"]`},
		{"unknown filter field", "/api/logs/filter", `{"logs": {"name": {"any_": ["x"]}}}`, "extra_forbidden", `["body","logs","name"]`},
		{"text query too long", "/api/logs/filter", `{"logs": {"text": {"query": "` + string(make([]byte, 201)) + `"}}}`, "json_invalid", `["body",0]`},
		{"bad operator", "/api/logs/filter", `{"logs": {"operator": "xor"}}`, "enum", `["body","operator"]`},
	}
	app := platformtest.New(t, config.SQLite, logs.Module)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := app.Invalid(http.MethodPost, tt.path, tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc {
				t.Fatalf("got %s at %s (%s), want %s at %s", got.Type, got.Loc, got.Msg, tt.wantType, tt.wantLoc)
			}
		})
	}
	long := make([]byte, 201)
	for i := range long {
		long[i] = 'a'
	}
	status, body := app.Do(http.MethodPost, "/api/logs/filter", map[string]any{"logs": map[string]any{"text": map[string]any{"query": string(long)}}})
	if status != 422 || !json.Valid(body) {
		t.Fatalf("long query = %d %s, want 422", status, body)
	}
	status, body = app.Do(http.MethodPost, "/api/logs/filter", map[string]any{"limit": 201})
	if status != 422 {
		t.Fatalf("limit 201 = %d %s, want 422", status, body)
	}
}
