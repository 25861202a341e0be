// Package platformtest runs modules on the real platform in a test: a fresh
// database of the chosen dialect, the memory broker and lease storage, and
// the assembled HTTP handler called in-process.
package platformtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// App is a started test application.
type App struct {
	t       testing.TB
	Handler http.Handler
	DB      *db.DB
}

// DefaultConfig is Prefect's default configuration (as config.Load gives it
// with nothing set) on a fresh database of dialect, with neither the HTTP
// listener nor the background services started.
func DefaultConfig(t testing.TB, dialect config.Dialect) config.Config {
	t.Helper()
	home := t.TempDir()
	cfg, err := config.Load(func(name string) (string, bool) {
		if name == "PREFECT_HOME" {
			return home, true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	cfg.Database = dbtest.Config(t, dialect)
	cfg.Services.RunAPI = false
	cfg.Services.RunServices = false
	return cfg
}

// New starts the platform and the given modules on a fresh database.
func New(t testing.TB, dialect config.Dialect, modules ...fx.Option) *App {
	return NewWithConfig(t, DefaultConfig(t, dialect), modules...)
}

// NewWithConfig is New with a custom configuration.
func NewWithConfig(t testing.TB, cfg config.Config, modules ...fx.Option) *App {
	t.Helper()
	a := &App{t: t}
	opts := []fx.Option{
		fx.Supply(cfg),
		fx.Supply(zaptest.NewLogger(t)),
		fx.NopLogger,
		platform.Module,
		fx.Populate(&a.Handler, &a.DB),
	}
	app := fxtest.New(t, append(opts, modules...)...)
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	return a
}

// Do sends a request with a JSON body (nil for none) and returns the status
// and the raw response body.
func (a *App) Do(method, path string, body any) (int, []byte) {
	a.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			a.t.Fatalf("marshal request: %v", err)
		}
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	a.Handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// JSON sends a request, checks the status and decodes the body into out.
func (a *App) JSON(method, path string, body any, wantStatus int, out any) {
	a.t.Helper()
	status, raw := a.Do(method, path, body)
	if status != wantStatus {
		a.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, wantStatus, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			a.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
}
