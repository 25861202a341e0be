package concurrency_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/platform/platformtest"
)

const v2 = "/api/v2/concurrency_limits"

type minimal struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Limit int    `json:"limit"`
}

type withLease struct {
	LeaseID string    `json:"lease_id"`
	Limits  []minimal `json:"limits"`
}

// retryAfter sends a request that must be refused with 423 and returns its
// Retry-After in seconds.
func retryAfter(t *testing.T, a *platformtest.App, path string, body any) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, jsonBody(t, body)))
	if rec.Code != http.StatusLocked {
		t.Fatalf("POST %s = %d %s, want 423", path, rec.Code, rec.Body)
	}
	secs, err := strconv.ParseFloat(rec.Header().Get("Retry-After"), 64)
	if err != nil {
		t.Fatalf("Retry-After %q: %v", rec.Header().Get("Retry-After"), err)
	}
	return secs
}

func TestIncrementAndDecrement(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		l := create(t, a, map[string]any{"name": "db", "limit": 2})
		create(t, a, map[string]any{"name": "off", "limit": 1, "active": false})
		var got []minimal
		a.JSON(http.MethodPost, v2+"/increment", map[string]any{"names": []string{"db", "off", "nope"}, "slots": 2}, http.StatusOK, &got)
		if len(got) != 2 {
			t.Fatalf("increment = %+v, want db and the inactive limit", got)
		}
		if read(t, a, "db").ActiveSlots != 2 || read(t, a, "off").ActiveSlots != 0 {
			t.Fatalf("after increment: db %+v, off %+v", read(t, a, "db"), read(t, a, "off"))
		}
		if secs := retryAfter(t, a, v2+"/increment", map[string]any{"names": []string{"db"}, "slots": 1}); secs < 0.7 || secs > 1.31 {
			t.Fatalf("Retry-After = %v, want about the average occupancy (2 s) per slot of the limit (2)", secs)
		}
		a.JSON(http.MethodPost, v2+"/decrement", map[string]any{"names": []string{"db"}, "slots": 1, "occupancy_seconds": 3}, http.StatusOK, &got)
		if len(got) != 1 || got[0].ID != l.ID || read(t, a, "db").ActiveSlots != 1 {
			t.Fatalf("decrement = %+v, active %d", got, read(t, a, "db").ActiveSlots)
		}
		a.JSON(http.MethodPost, v2+"/decrement", map[string]any{"names": []string{"db"}, "slots": 5}, http.StatusOK, nil)
		if n := read(t, a, "db").ActiveSlots; n != 0 {
			t.Fatalf("over-decrement left %d slots, want 0", n)
		}
		a.JSON(http.MethodPost, v2+"/increment", map[string]any{"names": []string{"nope"}, "slots": 1, "create_if_missing": true}, http.StatusOK, &got)
		if len(got) != 0 {
			t.Fatalf("increment of a missing limit = %+v, want []", got)
		}
		status, _ := a.Do(http.MethodGet, v2+"/nope", nil)
		if status != http.StatusNotFound {
			t.Fatalf("create_if_missing created a limit")
		}
	})
}

func TestLeaseLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		create(t, a, map[string]any{"name": "db", "limit": 3})
		var got withLease
		a.JSON(http.MethodPost, v2+"/increment-with-lease", map[string]any{"names": []string{"db"}, "slots": 2, "lease_duration": 60,
			"holder": map[string]any{"type": "flow_run", "id": newID()}}, http.StatusOK, &got)
		if got.LeaseID == "" || len(got.Limits) != 1 || got.Limits[0].Name != "db" || read(t, a, "db").ActiveSlots != 2 {
			t.Fatalf("increment-with-lease = %+v", got)
		}
		renew := v2 + "/leases/" + got.LeaseID + "/renew"
		a.JSON(http.MethodPost, renew, map[string]any{"lease_duration": 120}, http.StatusNoContent, nil)
		a.JSON(http.MethodPost, renew, nil, http.StatusNoContent, nil)
		a.JSON(http.MethodPost, v2+"/decrement-with-lease", map[string]any{"lease_id": got.LeaseID}, http.StatusNoContent, nil)
		if n := read(t, a, "db").ActiveSlots; n != 0 {
			t.Fatalf("after release: %d slots, want 0", n)
		}
		a.JSON(http.MethodPost, v2+"/increment", map[string]any{"names": []string{"db"}, "slots": 1}, http.StatusOK, nil)
		a.JSON(http.MethodPost, v2+"/decrement-with-lease", map[string]any{"lease_id": got.LeaseID}, http.StatusNoContent, nil)
		if n := read(t, a, "db").ActiveSlots; n != 1 {
			t.Fatalf("a second release of the lease gave back slots: %d left, want 1", n)
		}
		a.JSON(http.MethodPost, renew, nil, http.StatusGone, nil)
	})
}

// TestTagsWithoutLimits is what every tagged task sends: no limit exists, so
// the answer has no limits and the client goes ahead.
func TestTagsWithoutLimits(t *testing.T) {
	a := app(t, env{dialect: "sqlite"}, nil)
	var got map[string]any
	a.JSON(http.MethodPost, v2+"/increment-with-lease", map[string]any{"names": []string{"tag:a", "tag:b"}, "slots": 1,
		"mode": "concurrency", "holder": map[string]any{"type": "task_run", "id": newID()}}, http.StatusOK, &got)
	limits, ok := got["limits"].([]any)
	if len(got) != 2 || got["lease_id"] == "" || !ok || len(limits) != 0 {
		t.Fatalf("answer = %v, want a lease id and no limits", got)
	}
}

// TestAcquireIsAtomic: 32 holders on a limit of 5 never hold more than 5.
func TestAcquireIsAtomic(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		create(t, a, map[string]any{"name": "pool", "limit": 5})
		create(t, a, map[string]any{"name": "wide", "limit": 100})
		var holding, most, done atomic.Int32
		var wg sync.WaitGroup
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					status, raw := a.Do(http.MethodPost, v2+"/increment-with-lease",
						map[string]any{"names": []string{"wide", "pool"}, "slots": 1})
					if status == http.StatusLocked {
						time.Sleep(time.Millisecond)
						continue
					}
					var got withLease
					if status != http.StatusOK || decode(raw, &got) != nil {
						t.Errorf("increment-with-lease = %d %s", status, raw)
						return
					}
					n := holding.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					time.Sleep(2 * time.Millisecond)
					holding.Add(-1)
					if status, raw := a.Do(http.MethodPost, v2+"/decrement-with-lease", map[string]any{"lease_id": got.LeaseID}); status != http.StatusNoContent {
						t.Errorf("release = %d %s", status, raw)
					}
					done.Add(1)
					return
				}
			}()
		}
		wg.Wait()
		if done.Load() != 32 || most.Load() > 5 {
			t.Fatalf("%d holders done, at most %d at once: want 32 and at most 5", done.Load(), most.Load())
		}
		if p, w := read(t, a, "pool").ActiveSlots, read(t, a, "wide").ActiveSlots; p != 0 || w != 0 {
			t.Fatalf("slots left: pool %d, wide %d", p, w)
		}
	})
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name     string
		setting  map[string]string
		give     map[string]any
		min, max float64
	}{
		{"average occupancy", nil, map[string]any{"name": "c", "limit": 1}, 1.4, 2.7},
		{"capped by the maximum wait", map[string]string{"PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": "1"},
			map[string]any{"name": "c", "limit": 1}, 0.7, 1.31},
		{"tag limits capped by the tag wait", map[string]string{"PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS": "0.5"},
			map[string]any{"name": "tag:c", "limit": 1}, 0.35, 0.66},
		{"rate limit: decay time", nil, map[string]any{"name": "c", "limit": 1, "slot_decay_per_second": 0.5}, 1.4, 2.7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := app(t, env{dialect: "sqlite"}, tt.setting)
			name := tt.give["name"].(string)
			create(t, a, tt.give)
			a.JSON(http.MethodPost, v2+"/increment", map[string]any{"names": []string{name}, "slots": 1}, http.StatusOK, nil)
			if secs := retryAfter(t, a, v2+"/increment", map[string]any{"names": []string{name}, "slots": 1}); secs < tt.min || secs > tt.max {
				t.Fatalf("Retry-After = %v, want within [%v, %v]", secs, tt.min, tt.max)
			}
		})
	}
}

func TestRateLimitDecay(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		create(t, a, map[string]any{"name": "api", "limit": 2, "slot_decay_per_second": 5})
		take := map[string]any{"names": []string{"api"}, "slots": 1, "mode": "rate_limit"}
		a.JSON(http.MethodPost, v2+"/increment", map[string]any{"names": []string{"api"}, "slots": 2, "mode": "rate_limit"}, http.StatusOK, nil)
		if secs := retryAfter(t, a, v2+"/increment", take); secs < 0.14 || secs > 0.27 {
			t.Fatalf("Retry-After = %v, want about 1/decay (0.2 s)", secs)
		}
		time.Sleep(250 * time.Millisecond) // one slot decays (floor(5/s * 0.25 s) = 1)
		if n := read(t, a, "api").ActiveSlots; n != 1 {
			t.Fatalf("after 0.25 s: %d active slots, want 1", n)
		}
		a.JSON(http.MethodPost, v2+"/increment", take, http.StatusOK, nil)
		time.Sleep(500 * time.Millisecond)
		if n := read(t, a, "api").ActiveSlots; n != 0 {
			t.Fatalf("after 0.5 s more: %d active slots, want 0", n)
		}
	})
}
