package concurrency_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/leases"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// limit is a global limit as the API returns it.
type limit struct {
	ID                      string   `json:"id"`
	Created                 string   `json:"created"`
	Updated                 string   `json:"updated"`
	Active                  bool     `json:"active"`
	Name                    string   `json:"name"`
	Limit                   int      `json:"limit"`
	ActiveSlots             int      `json:"active_slots"`
	DeniedSlots             *int     `json:"denied_slots"`
	SlotDecayPerSecond      float64  `json:"slot_decay_per_second"`
	AvgSlotOccupancySeconds *float64 `json:"avg_slot_occupancy_seconds"`
}

// env is one cell of the test matrix: a database and a lease storage.
type env struct {
	dialect config.Dialect
	redis   bool
	fast    bool // leases last a thousandth of their duration
}

// each runs fn on every database, with memory leases and, when
// PREFECT_TEST_REDIS_URL is set, Redis leases.
func each(t *testing.T, fn func(t *testing.T, e env)) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		t.Run("memory", func(t *testing.T) { fn(t, env{dialect: d}) })
		if os.Getenv(redistest.EnvURL) != "" {
			t.Run("redis", func(t *testing.T) { fn(t, env{dialect: d, redis: true}) })
		}
	})
}

// app starts the module on a fresh database with its own lease storage;
// setting overrides Prefect settings (e.g. the repossessor's loop).
func app(t testing.TB, e env, setting map[string]string, opts ...fx.Option) *platformtest.App {
	t.Helper()
	cfg := platformtest.DefaultConfig(t, e.dialect)
	if e.redis {
		cfg.Concurrency.LeaseStorage = config.KindRedis
		cfg.Redis.URL = os.Getenv(redistest.EnvURL)
	}
	lookup := cfg.Services.Env
	cfg.Services.Env = func(name string) (string, bool) {
		if v, ok := setting[name]; ok {
			return v, true
		}
		return lookup(name)
	}
	storage := leases.Storage(leases.NewMemory())
	if e.redis {
		c := redistest.Client(t)
		storage = leases.NewRedis(c, leases.RedisOptions{KeyPrefix: redistest.Prefix(t, c)})
	}
	if e.fast {
		storage = fastLeases{storage}
	}
	opts = append([]fx.Option{concurrency.Module, fx.Decorate(func(leases.Storage) leases.Storage { return storage })}, opts...)
	return platformtest.NewWithConfig(t, cfg, opts...)
}

// fastLeases shortens every lease a thousandfold, so that a lease of
// Prefect's minimum 60 s expires in 60 ms.
type fastLeases struct{ leases.Storage }

func (f fastLeases) CreateWithID(ctx context.Context, id uuid.UUID, res []uuid.UUID, ttl time.Duration, meta json.RawMessage) (leases.Lease, error) {
	return f.Storage.(leases.IDCreator).CreateWithID(ctx, id, res, ttl/1000, meta)
}

func (f fastLeases) Renew(ctx context.Context, id uuid.UUID, ttl time.Duration) (bool, error) {
	return f.Storage.Renew(ctx, id, ttl/1000)
}

func create(t *testing.T, a *platformtest.App, body map[string]any) limit {
	t.Helper()
	var l limit
	a.JSON(http.MethodPost, "/api/v2/concurrency_limits/", body, http.StatusCreated, &l)
	return l
}

func read(t *testing.T, a *platformtest.App, idOrName string) limit {
	t.Helper()
	var l limit
	a.JSON(http.MethodGet, "/api/v2/concurrency_limits/"+idOrName, nil, http.StatusOK, &l)
	return l
}

func TestCreateReadUpdateDelete(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		l := create(t, a, map[string]any{"name": "db", "limit": 2})
		if !l.Active || l.Limit != 2 || l.ActiveSlots != 0 || l.DeniedSlots == nil || l.AvgSlotOccupancySeconds == nil ||
			*l.AvgSlotOccupancySeconds != 2.0 || l.Created == "" {
			t.Fatalf("created = %+v", l)
		}
		status, raw := a.Do(http.MethodPost, "/api/v2/concurrency_limits/", map[string]any{"name": "db", "limit": 3})
		if status != http.StatusConflict || !json.Valid(raw) ||
			string(raw) != `{"detail":"Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details."}`+"\n" {
			t.Fatalf("duplicate = %d %s", status, raw)
		}
		byID, byName := read(t, a, l.ID), read(t, a, "db")
		if byID.ID != l.ID || byName.ID != l.ID || byID.DeniedSlots != nil || byID.AvgSlotOccupancySeconds != nil {
			t.Fatalf("read = %+v / %+v (want no counters)", byID, byName)
		}
		a.JSON(http.MethodPatch, "/api/v2/concurrency_limits/db", map[string]any{"limit": 5, "active": false}, http.StatusNoContent, nil)
		a.JSON(http.MethodPatch, "/api/v2/concurrency_limits/"+l.ID, map[string]any{"name": "db2"}, http.StatusNoContent, nil)
		got := read(t, a, "db2")
		if got.Limit != 5 || got.Active || got.Updated <= l.Updated || got.Created != l.Created {
			t.Fatalf("after update = %+v, before %+v", got, l)
		}
		a.JSON(http.MethodDelete, "/api/v2/concurrency_limits/db2", nil, http.StatusNoContent, nil)
		a.JSON(http.MethodGet, "/api/v2/concurrency_limits/"+l.ID, nil, http.StatusNotFound, nil)
	})
}

func TestFilterPagesByName(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		a := app(t, e, nil)
		for _, n := range []string{"c", "a", "b"} {
			create(t, a, map[string]any{"name": n, "limit": 1})
		}
		tests := []struct {
			give map[string]any
			want []string
		}{
			{map[string]any{}, []string{"a", "b", "c"}},
			{map[string]any{"limit": 1, "offset": 1}, []string{"b"}},
			{map[string]any{"limit": 0}, []string{}},
			{map[string]any{"offset": 5}, []string{}},
		}
		for _, tt := range tests {
			var got []limit
			a.JSON(http.MethodPost, "/api/v2/concurrency_limits/filter", tt.give, http.StatusOK, &got)
			names := []string{}
			for _, l := range got {
				names = append(names, l.Name)
			}
			if len(names) != len(tt.want) || (len(names) > 0 && names[0] != tt.want[0]) {
				t.Errorf("filter %v = %v, want %v", tt.give, names, tt.want)
			}
		}
	})
}

func TestErrors(t *testing.T) {
	const missing = "00000000-0000-4000-8000-000000000000"
	tests := []struct {
		name       string
		method     string
		path       string
		give       any
		wantStatus int
		wantBody   string // detail, or the first 422 error's type
	}{
		{"read missing name", "GET", "/api/v2/concurrency_limits/nope", nil, 404, `"Concurrency Limit not found"`},
		{"read missing id", "GET", "/api/v2/concurrency_limits/" + missing, nil, 404, `"Concurrency Limit not found"`},
		{"patch missing", "PATCH", "/api/v2/concurrency_limits/nope", map[string]any{"limit": 1}, 404, `"Concurrency Limit not found"`},
		{"patch null", "PATCH", "/api/v2/concurrency_limits/db", map[string]any{"limit": nil}, 409, ""},
		{"patch extra field", "PATCH", "/api/v2/concurrency_limits/db", map[string]any{"bogus": 1}, 422, "extra_forbidden"},
		{"delete missing", "DELETE", "/api/v2/concurrency_limits/nope", nil, 404, `"Concurrency Limit not found"`},
		{"bad name", "POST", "/api/v2/concurrency_limits/", map[string]any{"name": "a/b", "limit": 1}, 422, "string_pattern_mismatch"},
		{"negative limit", "POST", "/api/v2/concurrency_limits/", map[string]any{"name": "x", "limit": -1}, 422, "greater_than_equal"},
		{"missing name", "POST", "/api/v2/concurrency_limits/", map[string]any{"limit": 1}, 422, "missing"},
		{"negative decay", "POST", "/api/v2/concurrency_limits/", map[string]any{"name": "x", "limit": 1, "slot_decay_per_second": -1}, 422, "greater_than_equal"},
		{"filter limit too large", "POST", "/api/v2/concurrency_limits/filter", map[string]any{"limit": 201}, 422, `"Invalid limit: must be less than or equal to 200."`},
		{"no slots", "POST", "/api/v2/concurrency_limits/increment", map[string]any{"names": []string{"db"}}, 422, "missing"},
		{"zero slots", "POST", "/api/v2/concurrency_limits/increment", map[string]any{"names": []string{"db"}, "slots": 0}, 422, "greater_than"},
		{"no names", "POST", "/api/v2/concurrency_limits/increment", map[string]any{"names": []string{}, "slots": 1}, 422, "too_short"},
		{"bad mode", "POST", "/api/v2/concurrency_limits/increment", map[string]any{"names": []string{"db"}, "slots": 1, "mode": "x"}, 422, "literal_error"},
		{"more than the limit", "POST", "/api/v2/concurrency_limits/increment", map[string]any{"names": []string{"db"}, "slots": 3}, 422, `"Slots requested is greater than the limit"`},
		{"rate limit without decay", "POST", "/api/v2/concurrency_limits/increment", map[string]any{"names": []string{"db"}, "slots": 1, "mode": "rate_limit"}, 422,
			`"Only concurrency limits with slot decay can be used for rate limiting. The following limits do not have a decay configured: 'db'"`},
		{"short lease", "POST", "/api/v2/concurrency_limits/increment-with-lease", map[string]any{"names": []string{"db"}, "slots": 1, "lease_duration": 30}, 422, "greater_than_equal"},
		{"long lease", "POST", "/api/v2/concurrency_limits/increment-with-lease", map[string]any{"names": []string{"db"}, "slots": 1, "lease_duration": 86401}, 422, "less_than_equal"},
		{"bad holder", "POST", "/api/v2/concurrency_limits/increment-with-lease", map[string]any{"names": []string{"db"}, "slots": 1, "holder": map[string]any{"type": "x", "id": missing}}, 422, "literal_error"},
		{"bad holder id", "POST", "/api/v2/concurrency_limits/increment-with-lease", map[string]any{"names": []string{"db"}, "slots": 1, "holder": map[string]any{"type": "task_run", "id": "x"}}, 422, "uuid_parsing"},
		{"zero occupancy", "POST", "/api/v2/concurrency_limits/decrement", map[string]any{"names": []string{"db"}, "slots": 1, "occupancy_seconds": 0}, 422, "greater_than"},
		{"release without lease id", "POST", "/api/v2/concurrency_limits/decrement-with-lease", map[string]any{}, 422, "missing"},
		{"renew gone", "POST", "/api/v2/concurrency_limits/leases/" + missing + "/renew", map[string]any{"lease_duration": 60}, 410, `"Lease not found - it may have expired or been revoked"`},
		{"renew bad id", "POST", "/api/v2/concurrency_limits/leases/x/renew", nil, 422, "uuid_parsing"},
		{"v1 missing tag", "GET", "/api/concurrency_limits/tag/nope", nil, 404, `"Concurrency limit not found"`},
		{"v1 missing id", "GET", "/api/concurrency_limits/" + missing, nil, 404, `"Concurrency limit not found"`},
		{"v1 not a uuid", "GET", "/api/concurrency_limits/nope", nil, 404, `"Not Found"`},
		{"v1 reset missing", "POST", "/api/concurrency_limits/tag/nope/reset", map[string]any{}, 404, `"Concurrency limit not found"`},
		{"v1 delete missing", "DELETE", "/api/concurrency_limits/tag/nope", nil, 404, `"Concurrency limit not found"`},
		{"v1 increment without run", "POST", "/api/concurrency_limits/increment", map[string]any{"names": []string{"x"}}, 422, "missing"},
		{"v1 create without limit", "POST", "/api/concurrency_limits/", map[string]any{"tag": "x"}, 422, "missing"},
	}
	a := app(t, env{dialect: config.SQLite}, nil)
	create(t, a, map[string]any{"name": "db", "limit": 2})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, raw := a.Do(tt.method, tt.path, tt.give)
			var got struct {
				Detail          json.RawMessage `json:"detail"`
				ExceptionDetail []struct {
					Type string `json:"type"`
				} `json:"exception_detail"`
			}
			_ = json.Unmarshal(raw, &got)
			body := string(got.Detail)
			if len(got.ExceptionDetail) > 0 {
				body = got.ExceptionDetail[0].Type
			}
			if status != tt.wantStatus || (tt.wantBody != "" && body != tt.wantBody) {
				t.Fatalf("got %d %s, want %d %s", status, raw, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

// ctx is for the tests that drive lease storage directly.
var ctx = context.Background()

// newID is a fresh UUID string.
func newID() string { return uuid.NewString() }

func jsonBody(t *testing.T, body any) io.Reader {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func decode(raw []byte, v any) error { return json.Unmarshal(raw, v) }

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
