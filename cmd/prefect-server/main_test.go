package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

// TestAppGraphIsComplete validates the fx graph of this build (run with and
// without -tags slim): a missing provider fails here, not at a user's start.
func TestAppGraphIsComplete(t *testing.T) {
	cfg := platformtest.DefaultConfig(t, config.SQLite)
	if err := fx.ValidateApp(appOptions(cfg, zap.NewNop())...); err != nil {
		t.Fatalf("fx graph of modules %v: %v", moduleNames(), err)
	}
}

func TestVersionListsModules(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	for _, m := range moduleNames() {
		if !strings.Contains(out.String(), m) {
			t.Fatalf("version output %q lacks module %s", out.String(), m)
		}
	}
}

func TestInvalidConfigNamesTheVariable(t *testing.T) {
	t.Setenv("PREFECT_SERVER_API_PORT", "abc")
	var out bytes.Buffer
	if code := run([]string{"start"}, &out, &out); code != 1 || !strings.Contains(out.String(), "PREFECT_SERVER_API_PORT") {
		t.Fatalf("exit %d, output %q: want exit 1 naming the variable", code, out.String())
	}
}

// TestRoutesOfModulesNotBuiltAnswer404 runs in every build: a module's route
// is served when the module is compiled in and is a plain 404 otherwise.
func TestRoutesOfModulesNotBuiltAnswer404(t *testing.T) {
	cfg := platformtest.DefaultConfig(t, config.SQLite)
	var h http.Handler
	app := fxtest.New(t, append(appOptions(cfg, zap.NewNop()), fx.Populate(&h))...)
	app.RequireStart()
	defer app.RequireStop()

	want := http.StatusNotFound
	if slices.Contains(moduleNames(), "variables") {
		want = http.StatusOK
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/variables/filter", strings.NewReader("{}")))
	if rec.Code != want {
		t.Fatalf("POST /api/variables/filter with modules %v = %d %s, want %d", moduleNames(), rec.Code, rec.Body, want)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/flows/filter", strings.NewReader("{}")))
	if rec.Code != http.StatusOK {
		t.Fatalf("core route POST /api/flows/filter = %d, want 200", rec.Code)
	}
}
