package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
)

func testHandler(t *testing.T) http.Handler {
	t.Helper()
	ok := func(name string) HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) error { return WriteJSON(w, 200, name) }
	}
	sets := []Routes{
		{Module: "b", Routes: []Route{{Method: "GET", Path: "/things/{id}", Handler: ok("by-id")}}},
		{Module: "a", Routes: []Route{
			{Method: "POST", Path: "/things/filter", Handler: ok("filter")},
			{Method: "GET", Path: "/things/filter", Handler: ok("get-filter")},
			{Method: "POST", Path: "/things", Handler: ok("create")},
			{Method: "GET", Path: "/boom", Handler: func(http.ResponseWriter, *http.Request) error { panic("boom") }},
		}},
	}
	cfg := config.API{CORSAllowedOrigins: []string{"*"}, CORSAllowedMethods: []string{"*"}, CORSAllowedHeaders: []string{"*"}, MaxBodyBytes: 1024}
	h, err := NewHandler(cfg, sets, zap.NewNop(), false)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRouting(t *testing.T) {
	tests := []struct {
		name, method, path, header string
		wantStatus                 int
		wantBody                   string
	}{
		{"literal before variable", "GET", "/api/things/filter", "", 200, `"get-filter"`},
		{"variable", "GET", "/api/things/123", "", 200, `"by-id"`},
		{"trailing slash served directly", "POST", "/api/things/", "", 200, `"create"`},
		{"no trailing slash", "POST", "/api/things", "", 200, `"create"`},
		{"unknown route", "GET", "/api/nope", "", 404, `{"detail":"Not Found"}`},
		{"wrong method", "DELETE", "/api/things/filter", "", 405, `{"detail":"Method Not Allowed"}`},
		{"wrong method on a lone route", "DELETE", "/api/boom", "", 405, `{"detail":"Method Not Allowed"}`},
		{"panic is a 500", "GET", "/api/boom", "", 500, `{"exception_message":"Internal Server Error"}`},
		{"current api version", "POST", "/api/things", "0.8.4", 200, `"create"`},
		{"newer api version", "POST", "/api/things", "9.9.9", 200, `"create"`},
		{"old api version", "POST", "/api/things", "0.7.9", 400,
			`{"detail":"The request specified API version 0.7.9 but this server requires version 0.8.0 or higher."}`},
		{"malformed api version", "POST", "/api/things", "garbage", 400,
			`{"detail":"Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received garbage"}`},
		{"four-part api version", "POST", "/api/things", "0.8.4.1", 400,
			`{"detail":"Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received 0.8.4.1"}`},
	}
	h := testHandler(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.header != "" {
				req.Header.Set("X-PREFECT-API-VERSION", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := strings.TrimSpace(rec.Body.String()); rec.Code != tt.wantStatus || got != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", rec.Code, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
}

func TestDuplicateRouteFailsStart(t *testing.T) {
	h := func(http.ResponseWriter, *http.Request) error { return nil }
	_, err := NewRouter([]Routes{
		{Module: "a", Routes: []Route{{Method: "GET", Path: "/x", Handler: h}}},
		{Module: "b", Routes: []Route{{Method: "GET", Path: "/x", Handler: h}}},
	}, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "GET /x") {
		t.Fatalf("err = %v, want a duplicate-route error", err)
	}
}

func TestCORS(t *testing.T) {
	h := testHandler(t)
	req := httptest.NewRequest("OPTIONS", "/api/things", nil)
	req.Header.Set("Origin", "http://ui.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-prefect-api-version")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "*" ||
		rec.Header().Get("Access-Control-Allow-Headers") != "content-type,x-prefect-api-version" {
		t.Fatalf("preflight = %d %v", rec.Code, rec.Header())
	}
	req = httptest.NewRequest("POST", "/api/things", nil)
	req.Header.Set("Origin", "http://ui.example")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("simple request headers = %v", rec.Header())
	}
}

func TestBodyLimit(t *testing.T) {
	sets := []Routes{{Module: "a", Routes: []Route{{Method: "POST", Path: "/x", Handler: func(w http.ResponseWriter, r *http.Request) error {
		var v map[string]any
		if err := Decode(r, &v); err != nil {
			return err
		}
		return NoContent(w)
	}}}}}
	h, err := NewHandler(config.API{MaxBodyBytes: 16}, sets, zap.NewNop(), false)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/x", strings.NewReader(`{"a": "`+strings.Repeat("x", 100)+`"}`)))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}
