package events

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// seedFilterEvents stores the events the filter cases select from, named
// e1..e5 by occurrence, plus one older than the default window.
func seedFilterEvents(t *testing.T, r *repo, t0 time.Time) map[string]*Event {
	t.Helper()
	flow1 := L(LabelID, "prefect.flow.1", LabelRole, "flow", LabelName, "etl")
	flow2 := L(LabelID, "prefect.flow.2", LabelRole, "flow", LabelName, "ml")
	daily := L(LabelID, "prefect.tag.daily", LabelRole, "tag")
	e1 := ev("prefect.flow-run.Running", "prefect.flow-run.1", t0.Add(1*time.Minute), flow1, daily)
	e1.Resource.Set(LabelName, "run-one")
	e1.Resource.Set("kind", "a")
	e2 := ev("prefect.flow-run.Completed", "prefect.flow-run.1", t0.Add(2*time.Minute), L(LabelID, "prefect.flow.1", LabelRole, "flow"))
	e3 := ev("prefect.task-run.Running", "prefect.task-run.1", t0.Add(3*time.Minute),
		L(LabelID, "prefect.flow-run.1", LabelRole, "flow-run"), flow2)
	e4 := ev("custom.Event_x", "my.Resource.%1", t0.Add(4*time.Minute))
	e4.Resource.Set("env", "Prod")
	e4.Payload = json.RawMessage(`{"msg":"Connection timeout"}`)
	e5 := ev("prefect.flow-run.Failed", "prefect.flow-run.2", t0.Add(5*time.Minute), flow2, daily)
	e5.Payload = json.RawMessage(`{"msg":"error: disk full"}`)
	old := ev("prefect.flow-run.Running", "prefect.flow-run.3", t0.AddDate(0, 0, -200))
	all := []*Event{e1, e2, e3, e4, e5, old}
	if _, err := r.write(context.Background(), all); err != nil {
		t.Fatal(err)
	}
	return map[string]*Event{"e1": e1, "e2": e2, "e3": e3, "e4": e4, "e5": e5, "old": old}
}

func TestFilters(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name string
		give string // the "filter" object
		want []string
	}{
		{"default window, newest first", `{}`, []string{"e5", "e4", "e3", "e2", "e1"}},
		{"occurred range inclusive", `{"occurred": {"since": "` + at(2*time.Minute) + `", "until": "` + at(4*time.Minute) + `"}}`, []string{"e4", "e3", "e2"}},
		{"order ascending", `{"order": "ASC"}`, []string{"e1", "e2", "e3", "e4", "e5"}},
		{"name prefix", `{"event": {"prefix": ["prefect.flow-run."]}}`, []string{"e5", "e2", "e1"}},
		{"prefix and exclude prefix", `{"event": {"prefix": ["prefect.flow-run."], "exclude_prefix": ["prefect.flow-run.R"]}}`, []string{"e5", "e2"}},
		{"prefix is literal", `{"event": {"prefix": ["custom.Event%"]}}`, []string{}},
		{"prefix underscore is literal", `{"event": {"prefix": ["custom.Event_"]}}`, []string{"e4"}},
		{"prefix is case-sensitive", `{"event": {"prefix": ["Prefect."]}}`, []string{}},
		{"names", `{"event": {"name": ["custom.Event_x", "prefect.task-run.Running"]}}`, []string{"e4", "e3"}},
		{"exclude names", `{"event": {"exclude_name": ["custom.Event_x", "prefect.task-run.Running"]}}`, []string{"e5", "e2", "e1"}},
		{"resource ids", `{"resource": {"id": ["prefect.flow-run.1"]}}`, []string{"e2", "e1"}},
		{"resource id prefix", `{"resource": {"id_prefix": ["prefect.task"]}}`, []string{"e3"}},
		{"resource id pattern", `{"resource": {"labels": {"prefect.resource.id": "prefect.flow-run.*"}}}`, []string{"e5", "e2", "e1"}},
		{"resource id pattern, % literal", `{"resource": {"labels": {"prefect.resource.id": "my.Resource.%1"}}}`, []string{"e4"}},
		{"resource id pattern, ? wildcard", `{"resource": {"labels": {"prefect.resource.id": "my.Resource.?1"}}}`, []string{"e4"}},
		{"resource id pattern is case-sensitive", `{"resource": {"labels": {"prefect.resource.id": "my.resource.*"}}}`, []string{}},
		{"resource label", `{"resource": {"labels": {"kind": "a"}}}`, []string{"e1"}},
		{"resource label pattern list", `{"resource": {"labels": {"env": ["x", "Pr*"]}}}`, []string{"e4"}},
		{"resource label negated", `{"resource": {"labels": {"env": "!Prod"}}}`, []string{}},
		{"resource label negated other value", `{"resource": {"labels": {"env": "!Dev"}}}`, []string{"e4"}},
		{"resource label empty list", `{"resource": {"labels": {"kind": []}}}`, []string{}},
		{"related role", `{"related": {"role": ["flow"]}}`, []string{"e5", "e3", "e2", "e1"}},
		{"related id", `{"related": {"id": ["prefect.flow.2"]}}`, []string{"e5", "e3"}},
		{"related id is never the primary", `{"related": {"id": ["prefect.flow-run.1"]}}`, []string{"e3"}},
		{"related role label", `{"related": {"labels": {"prefect.resource.role": "tag"}}}`, []string{"e5", "e1"}},
		{"related name label", `{"related": {"labels": {"prefect.resource.name": "etl"}}}`, []string{"e1"}},
		{"related resources in roles", `{"related": {"resources_in_roles": [["prefect.flow.2", "flow"]]}}`, []string{"e5", "e3"}},
		{"related list: all must hold", `{"related": [{"role": ["flow"]}, {"id": ["prefect.tag.daily"]}]}`, []string{"e5", "e1"}},
		{"any resource id", `{"any_resource": {"id": ["prefect.flow-run.1"]}}`, []string{"e3", "e2", "e1"}},
		{"any resource id prefix", `{"any_resource": {"id_prefix": ["prefect.tag"]}}`, []string{"e5", "e1"}},
		{"any resource role label", `{"any_resource": {"labels": {"prefect.resource.role": "flow-run"}}}`, []string{"e3"}},
		{"text in payload", `{"text": {"query": "TIMEOUT"}}`, []string{"e4"}},
		{"text phrase", `{"text": {"query": "\"connection timeout\""}}`, []string{"e4"}},
		{"text include and exclude", `{"text": {"query": "disk -full"}}`, []string{}},
		{"text any of", `{"text": {"query": "disk timeout"}}`, []string{"e5", "e4"}},
		{"text required", `{"text": {"query": "+flow-run +daily"}}`, []string{"e5", "e1"}},
	}
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		r := newTestRepo(t, d)
		seeded := seedFilterEvents(t, r, t0)
		name := map[uuid.UUID]string{}
		for k, e := range seeded {
			name[e.ID] = k
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				f, err := decodeFilter(json.RawMessage(tt.give), time.Now(), "filter")
				if err != nil {
					t.Fatal(err)
				}
				got, err := r.query(context.Background(), f, 50, 0)
				if err != nil {
					t.Fatal(err)
				}
				gotNames := make([]string, len(got))
				for i, e := range got {
					gotNames[i] = name[e.ID]
				}
				if !slices.Equal(gotNames, tt.want) {
					t.Fatalf("sql: got %v, want %v", gotNames, tt.want)
				}
				n, err := r.count(context.Background(), f)
				if err != nil || n != len(tt.want) {
					t.Fatalf("count = %d, %v; want %d", n, err, len(tt.want))
				}
				// The live stream filters in memory: it must agree.
				var inMemory []string
				for _, k := range []string{"e5", "e4", "e3", "e2", "e1", "old"} {
					if f.includes(seeded[k]) {
						inMemory = append(inMemory, k)
					}
				}
				if f.Order == OrderASC {
					slices.Reverse(inMemory)
				}
				if inMemory == nil {
					inMemory = []string{}
				}
				if !slices.Equal(inMemory, tt.want) {
					t.Fatalf("in memory: got %v, want %v", inMemory, tt.want)
				}
			})
		}
		t.Run("distinct resources", func(t *testing.T) {
			f, _ := decodeFilter(json.RawMessage(`{"resource": {"id_prefix": ["prefect.flow-run."], "distinct": true}}`), time.Now())
			got, err := r.query(context.Background(), f, 50, 0)
			n, cerr := r.count(context.Background(), f)
			if err != nil || cerr != nil || len(got) != 2 || name[got[0].ID] != "e5" || name[got[1].ID] != "e2" || n != 2 {
				t.Fatalf("distinct = %v (%v), count %d (%v); want the latest of each resource: e5, e2", ids(got), err, n, cerr)
			}
		})
		t.Run("id filter caps the limit", func(t *testing.T) {
			f, _ := decodeFilter(json.RawMessage(`{"id": {"id": ["`+seeded["e3"].ID.String()+`"]}}`), time.Now())
			got, err := r.query(context.Background(), f, 50, 0)
			if err != nil || len(got) != 1 || got[0].ID != seeded["e3"].ID {
				t.Fatalf("by id = %v, %v", ids(got), err)
			}
		})
	})
}

func TestFilterValidation(t *testing.T) {
	tests := []struct {
		name     string
		give     string
		wantType string
		wantLoc  string
	}{
		{"unknown field", `{"filter": {"bogus": 1}}`, "extra_forbidden", `["body","filter","bogus"]`},
		{"unknown nested field", `{"filter": {"event": {"prefixes": ["a"]}}}`, "extra_forbidden", `["body","filter","prefixes"]`}, // pydantic also names "event"
		{"bad order", `{"filter": {"order": "UP"}}`, "enum", `["body","filter","order"]`},
		{"limit too large", `{"limit": 51}`, "less_than_equal", `["body","limit"]`},
		{"negative limit", `{"limit": -1}`, "greater_than_equal", `["body","limit"]`},
		{"text too long", `{"filter": {"text": {"query": "` + strings.Repeat("a", 201) + `"}}}`, "string_too_long", `["body","filter","text","query"]`},
	}
	srv := startServer(t, config.SQLite, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := srv.Invalid(http.MethodPost, "/api/events/filter", tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc {
				t.Fatalf("got %s at %s (%s), want %s at %s", got.Type, got.Loc, got.Msg, tt.wantType, tt.wantLoc)
			}
		})
	}
}

// TestPagination pages through events with the next-page links.
func TestPagination(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		srv := startServer(t, d, nil)
		now := time.Now()
		var evs []any
		for i := range 7 {
			evs = append(evs, rawEvent("test.page", "r.1", now.Add(time.Duration(i)*time.Second-time.Minute), nil))
		}
		srv.JSON(http.MethodPost, "/api/events", evs, http.StatusNoContent, nil)
		srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.page"}}}, 7)
		var p page
		srv.JSON(http.MethodPost, "/api/events/filter", map[string]any{"limit": 3, "filter": map[string]any{
			"event": map[string]any{"name": []string{"test.page"}}, "order": "ASC"}}, http.StatusOK, &p)
		var seen []string
		for pages := 1; ; pages++ {
			for _, e := range p.Events {
				seen = append(seen, e.Occurred.String())
			}
			if p.Total != 7 || pages > 3 {
				t.Fatalf("page %d: total %d", pages, p.Total)
			}
			if p.NextPage == nil {
				break
			}
			u, err := url.Parse(*p.NextPage)
			next := u.RequestURI()
			if err != nil || u.Host != "example.com" || !strings.HasPrefix(next, "/api/events/filter/next?page-token=") {
				t.Fatalf("next page link %q is not on this server", *p.NextPage)
			}
			p = page{}
			srv.JSON(http.MethodGet, next, nil, http.StatusOK, &p)
		}
		if len(seen) != 7 || !slices.IsSorted(seen) {
			t.Fatalf("pages gave %v", seen)
		}
		srv.JSON(http.MethodGet, "/api/events/filter/next?page-token=bm9wZQ==", nil, http.StatusForbidden, nil)
		srv.JSON(http.MethodGet, "/api/events/filter/next?page-token=!!", nil, http.StatusForbidden, nil)
		srv.JSON(http.MethodGet, "/api/events/filter/next", nil, http.StatusUnprocessableEntity, nil)
	})
}
