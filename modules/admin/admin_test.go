package admin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/prefect-server/prefect-server/modules/admin"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

func TestRootAndAdminRoutes(t *testing.T) {
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
	}{
		{"/api/health", 200, `true`},
		{"/api/version", 200, `"0.8.4"`},
		{"/api/hello", 200, `"👋"`},
		{"/api/ready", 200, `{"message":"OK"}`},
		{"/api/admin/version", 200, `"3.9.1"`},
		{"/api/admin/storage", 200, `{"default_result_storage_block_id":null}`},
		{"/api/csrf-token?client=abc", 422, `{"detail":"CSRF protection is disabled."}`},
	}
	app := platformtest.New(t, config.SQLite, admin.Module)
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := app.Do(http.MethodGet, tt.path, nil)
			if got := strings.TrimSpace(string(body)); status != tt.wantStatus || got != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", status, got, tt.wantStatus, tt.wantBody)
			}
		})
	}
	var settings struct {
		Server struct {
			API struct {
				Port int `json:"port"`
			} `json:"api"`
			Database struct {
				ConnectionURL string `json:"connection_url"`
			} `json:"database"`
		} `json:"server"`
	}
	app.JSON(http.MethodGet, "/api/admin/settings", nil, http.StatusOK, &settings)
	if settings.Server.API.Port != 4200 || settings.Server.Database.ConnectionURL != "********" {
		t.Fatalf("settings = %+v: want the default port and a masked database URL", settings)
	}
}
