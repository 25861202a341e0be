package logs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/prefect-server/prefect-server/modules/logs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

func TestStreamOut(t *testing.T) {
	cfg := platformtest.DefaultConfig(t, config.SQLite)
	cfg.Services.Env = func(name string) (string, bool) {
		if strings.HasPrefix(name, "PREFECT_SERVER_LOGS_STREAM_") {
			return "true", true
		}
		return "", false
	}
	app := platformtest.NewWithConfig(t, cfg, logs.Module)
	srv := httptest.NewServer(app.Handler)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/logs/out",
		&websocket.DialOptions{Subprotocols: []string{"prefect"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow() //nolint:errcheck
	write := func(v any) {
		b, _ := json.Marshal(v)
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	write(map[string]any{"type": "auth", "token": nil})
	if _, b, err := conn.Read(ctx); err != nil || string(b) != `{"type":"auth_success"}` {
		t.Fatalf("auth answer = %s, %v", b, err)
	}
	write(map[string]any{"type": "filter", "filter": map[string]any{"level": map[string]any{"ge_": 30}}})
	time.Sleep(100 * time.Millisecond) // the subscription joins after the filter arrives
	app.JSON(http.MethodPost, "/api/logs/", []map[string]any{
		{"name": "n", "level": 10, "message": "quiet", "timestamp": "2024-05-01T12:00:00Z"},
		{"name": "n", "level": 40, "message": "loud", "timestamp": "2024-05-01T12:00:01Z"},
	}, http.StatusCreated, nil)
	_, b, err := conn.Read(ctx)
	var got struct {
		Type string `json:"type"`
		Log  struct {
			Message string `json:"message"`
			Level   int    `json:"level"`
		} `json:"log"`
	}
	if err != nil || json.Unmarshal(b, &got) != nil || got.Type != "log" || got.Log.Message != "loud" {
		t.Fatalf("streamed = %s, %v; want the level-40 log only", b, err)
	}
}

func TestStreamRejectsNonFilterMessage(t *testing.T) {
	app := platformtest.New(t, config.SQLite, logs.Module)
	srv := httptest.NewServer(app.Handler)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/logs/out", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.CloseNow() //nolint:errcheck
	_ = conn.Write(ctx, websocket.MessageText, []byte(`{"type": "hello"}`))
	_, _, err = conn.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusProtocolError {
		t.Fatalf("read after a bad message = %v, want close 1002", err)
	}
}
