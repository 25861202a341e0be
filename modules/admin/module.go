// Package admin is the server's own endpoints: health, readiness, hello, the
// API and server versions, the settings view, the default result storage
// and the CSRF token endpoint (root.py, admin.py and csrf_token.py in
// Prefect). It is part of every build.
package admin

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform"
	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
)

// APIVersion is the REST API version (prefect.client.constants.SERVER_API_VERSION).
const APIVersion = "0.8.4"

// Module is the admin feature.
var Module = fx.Module("admin", fx.Provide(platform.AsRoutes(newRoutes)))

type handlers struct {
	db  *db.DB
	cfg config.Config
}

func newRoutes(d *db.DB, cfg config.Config) api.Routes {
	h := &handlers{db: d, cfg: cfg}
	return api.Routes{Module: "admin", Routes: []api.Route{
		{Method: http.MethodGet, Path: "/health", Handler: value(true)},
		{Method: http.MethodGet, Path: "/version", Handler: value(APIVersion)},
		{Method: http.MethodGet, Path: "/hello", Handler: value("👋")},
		{Method: http.MethodGet, Path: "/ready", Handler: h.ready},
		{Method: http.MethodGet, Path: "/admin/version", Handler: value(platform.Version)},
		{Method: http.MethodGet, Path: "/admin/settings", Handler: h.settings},
		{Method: http.MethodGet, Path: "/admin/storage", Handler: h.storage},
		{Method: http.MethodGet, Path: "/csrf-token", Handler: h.csrfToken},
	}}
}

// value answers a constant JSON value.
func value(v any) api.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) error { return api.WriteJSON(w, http.StatusOK, v) }
}

// ready answers 200 when the database answers, 503 otherwise.
func (h *handlers) ready(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := h.db.Read.PingContext(ctx); err != nil {
		return api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "Database is not available"})
	}
	if _, err := h.db.Read.ExecContext(ctx, "SELECT 1"); err != nil {
		return api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "Database is not available"})
	}
	return api.WriteJSON(w, http.StatusOK, map[string]string{"message": "OK"})
}

// storage is the server's default result storage. Setting one needs the
// blocks module; until a block is set there is none, which is what the
// client reads on every flow run.
func (h *handlers) storage(w http.ResponseWriter, _ *http.Request) error {
	return api.WriteJSON(w, http.StatusOK, map[string]any{"default_result_storage_block_id": nil})
}

// csrfToken answers as Prefect does while CSRF protection is off (the
// default): the client then stops asking for tokens.
func (h *handlers) csrfToken(_ http.ResponseWriter, _ *http.Request) error {
	return &api.Error{Status: http.StatusUnprocessableEntity, Detail: "CSRF protection is disabled."}
}
