package concurrency_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

const v1 = "/api/concurrency_limits"

// tagLimit is a tag limit in the v1 shape.
type tagLimit struct {
	ID               string   `json:"id"`
	Created          string   `json:"created"`
	Updated          string   `json:"updated"`
	Tag              string   `json:"tag"`
	ConcurrencyLimit int      `json:"concurrency_limit"`
	ActiveSlots      []string `json:"active_slots"`
}

func readTag(t *testing.T, a interface {
	JSON(string, string, any, int, any)
}, tag string) tagLimit {
	t.Helper()
	var got tagLimit
	a.JSON(http.MethodGet, v1+"/tag/"+tag, nil, http.StatusOK, &got)
	return got
}

func TestTagLimitsAreGlobalLimits(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		var created, again tagLimit
		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "db", "concurrency_limit": 1}, http.StatusCreated, &created)
		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "db", "concurrency_limit": 2}, http.StatusOK, &again)
		if created.Tag != "db" || created.ActiveSlots == nil || again.ID != created.ID || again.ConcurrencyLimit != 2 || again.Updated <= created.Updated {
			t.Fatalf("created %+v, then %+v", created, again)
		}
		if g := read(t, a, "tag:db"); g.ID != created.ID || g.Limit != 2 {
			t.Fatalf("global limit = %+v", g)
		}
		var byID tagLimit
		a.JSON(http.MethodGet, v1+"/"+created.ID, nil, http.StatusOK, &byID)
		if byID.ID != created.ID || byID.Tag != "db" {
			t.Fatalf("read by id = %+v", byID)
		}
		other := create(t, a, map[string]any{"name": "plain", "limit": 1})
		a.JSON(http.MethodGet, v1+"/"+other.ID, nil, http.StatusNotFound, nil)

		runA, runB, runC := newID(), newID(), newID()
		var got []minimal
		a.JSON(http.MethodPost, v1+"/increment", map[string]any{"names": []string{"db", "untracked"}, "task_run_id": runA}, http.StatusOK, &got)
		if len(got) != 1 || got[0].Name != "db" || got[0].ID != created.ID {
			t.Fatalf("increment = %+v", got)
		}
		a.JSON(http.MethodPost, v1+"/increment", map[string]any{"names": []string{"db"}, "task_run_id": runB}, http.StatusOK, nil)
		if g := readTag(t, a, "db"); len(g.ActiveSlots) != 2 || g.ActiveSlots[0] != runA {
			t.Fatalf("holders = %v, want %s and %s", g.ActiveSlots, runA, runB)
		}
		rec := httptest.NewRecorder()
		a.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, v1+"/increment", jsonBody(t, map[string]any{"names": []string{"db"}, "task_run_id": runC})))
		if rec.Code != http.StatusLocked || rec.Header().Get("Retry-After") != "10.0" ||
			rec.Body.String() != `{"detail":"Concurrency limit for the db tag has been reached"}`+"\n" {
			t.Fatalf("third run = %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
		a.JSON(http.MethodPost, v1+"/decrement", map[string]any{"names": []string{"db"}, "task_run_id": runA, "occupancy_seconds": 1.5}, http.StatusOK, &got)
		if len(got) != 1 || got[0].Name != "tag:db" {
			t.Fatalf("decrement = %+v (Prefect names the global limit here)", got)
		}
		if g, n := readTag(t, a, "db"), read(t, a, "tag:db").ActiveSlots; len(g.ActiveSlots) != 1 || g.ActiveSlots[0] != runB || n != 1 {
			t.Fatalf("after decrement: holders %v, %d slots", g.ActiveSlots, n)
		}

		a.JSON(http.MethodPost, v1+"/tag/db/reset", map[string]any{"slot_override": []string{runC}}, http.StatusOK, nil)
		if g, n := readTag(t, a, "db"), read(t, a, "tag:db").ActiveSlots; len(g.ActiveSlots) != 1 || g.ActiveSlots[0] != runC || n != 1 {
			t.Fatalf("after reset: holders %v, %d slots; want only %s", g.ActiveSlots, n, runC)
		}
		a.JSON(http.MethodPost, v1+"/tag/db/reset", nil, http.StatusOK, nil)
		if g, n := readTag(t, a, "db"), read(t, a, "tag:db").ActiveSlots; len(g.ActiveSlots) != 0 || n != 0 {
			t.Fatalf("after reset: holders %v, %d slots", g.ActiveSlots, n)
		}

		a.JSON(http.MethodPost, v1+"/", map[string]any{"tag": "zero", "concurrency_limit": 0}, http.StatusCreated, nil)
		status, raw := a.Do(http.MethodPost, v1+"/increment", map[string]any{"names": []string{"db", "zero"}, "task_run_id": runA})
		if status != http.StatusLocked || string(raw) != `{"detail":"The concurrency limit on tag \"zero\" is 0 and will deadlock if the task tries to run again."}`+"\n" {
			t.Fatalf("zero limit = %d %s", status, raw)
		}
		if n := read(t, a, "tag:db").ActiveSlots; n != 0 {
			t.Fatalf("a refused increment took %d slots", n)
		}

		var all []tagLimit
		a.JSON(http.MethodPost, v1+"/filter", map[string]any{}, http.StatusOK, &all)
		if len(all) != 2 || all[0].Tag != "db" || all[1].Tag != "zero" {
			t.Fatalf("filter = %+v, want the tag limits only", all)
		}
		// Prefect pages the global limits, then keeps the tag limits: "plain"
		// sorts first and takes the one row of this page.
		a.JSON(http.MethodPost, v1+"/filter", map[string]any{"limit": 1}, http.StatusOK, &all)
		if len(all) != 0 {
			t.Fatalf("filter limit 1 = %+v, want [] as Prefect", all)
		}

		a.JSON(http.MethodDelete, v1+"/tag/zero", nil, http.StatusOK, nil)
		a.JSON(http.MethodDelete, v1+"/"+other.ID, nil, http.StatusOK, nil)
		a.JSON(http.MethodPost, v1+"/increment", map[string]any{"names": []string{"db"}, "task_run_id": runA}, http.StatusOK, nil)
		a.JSON(http.MethodDelete, v1+"/"+created.ID, nil, http.StatusOK, nil)
		a.JSON(http.MethodPost, v1+"/filter", nil, http.StatusOK, &all)
		if len(all) != 0 {
			t.Fatalf("after deletes: %+v", all)
		}
	})
}
