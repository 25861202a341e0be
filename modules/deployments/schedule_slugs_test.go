package deployments_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// PATCH of a deployment whose schedules all have slugs patches them by slug
// (renames through replaces, creates new slugs, deletes none); the cases,
// run in order, and their answers are the Python server's.
func TestUpdateSchedulesBySlug(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := newApp(t, d)
		flowID := createFlow(t, app, "f")
		every := func(seconds int, slug string, extra ...string) map[string]any {
			s := map[string]any{"schedule": map[string]any{"interval": seconds}, "slug": slug}
			for i := 0; i+1 < len(extra); i += 2 {
				s[extra[i]] = extra[i+1]
			}
			return s
		}
		var dep deployment
		app.JSON(http.MethodPost, "/api/deployments/", map[string]any{"name": "d", "flow_id": flowID,
			"schedules": []any{every(60, "a"), every(120, "b")}}, http.StatusCreated, &dep)
		tests := []struct {
			give       []any
			wantStatus int
			want       string // slug:active:interval, sorted
		}{
			{[]any{map[string]any{"slug": "a", "active": false}}, 204, "a:false:60 b:true:120"},
			{[]any{every(300, "c")}, 204, "a:false:60 b:true:120 c:true:300"},
			{[]any{map[string]any{"schedule": map[string]any{"interval": 60}}}, 422, "a:false:60 b:true:120 c:true:300"},
			{[]any{map[string]any{"slug": "z"}}, 422, "a:false:60 b:true:120 c:true:300"},
			{[]any{map[string]any{"slug": "a2", "replaces": "a"}}, 204, "a2:false:60 b:true:120 c:true:300"},
			{[]any{map[string]any{"slug": "b", "replaces": "a2"}}, 422, "a2:false:60 b:true:120 c:true:300"},
			{[]any{map[string]any{"slug": "x", "replaces": "b"}, map[string]any{"slug": "y", "replaces": "b"}}, 422, "a2:false:60 b:true:120 c:true:300"},
			{[]any{every(900, "n", "replaces", "nope")}, 204, "a2:false:60 b:true:120 c:true:300 n:true:900"},
			{[]any{}, 204, "a2:false:60 b:true:120 c:true:300 n:true:900"},
		}
		for _, tt := range tests {
			status, body := app.Do(http.MethodPatch, "/api/deployments/"+dep.ID, map[string]any{"schedules": tt.give})
			var got deployment
			app.JSON(http.MethodGet, "/api/deployments/"+dep.ID, nil, http.StatusOK, &got)
			var have []string
			for _, s := range got.Schedules {
				have = append(have, fmt.Sprintf("%s:%v:%v", s.Slug, s.Active, s.Schedule["interval"]))
			}
			sort.Strings(have)
			if status != tt.wantStatus || strings.Join(have, " ") != tt.want {
				t.Errorf("PATCH schedules %v: %d %s -> %v; want %d, %s", tt.give, status, body, have, tt.wantStatus, tt.want)
			}
		}
	})
}
