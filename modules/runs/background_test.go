package runs_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/modules/flows"
	"github.com/prefect-server/prefect-server/modules/runs"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/platformtest"
)

func dialSubscription(t *testing.T, ctx context.Context, srv *httptest.Server) *websocket.Conn {
	t.Helper()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/task_runs/subscriptions/scheduled"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{"prefect"}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	send(t, ctx, conn, map[string]any{"type": "auth", "token": nil})
	if _, msg, err := conn.Read(ctx); err != nil || string(msg) != `{"type":"auth_success"}` {
		t.Fatalf("auth: %s %v", msg, err)
	}
	return conn
}

func send(t *testing.T, ctx context.Context, conn *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

func TestBackgroundTaskSubscription(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		app := platformtest.New(t, d, flows.Module, events.Module, runs.Module)
		srv := httptest.NewServer(app.Handler)
		t.Cleanup(srv.Close)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()

		var created run
		app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"task_key": "add-1", "dynamic_key": "k",
			"state": map[string]any{"type": "SCHEDULED", "state_details": map[string]any{"deferred": true}}}, http.StatusCreated, &created)
		app.JSON(http.MethodPost, "/api/task_runs/", map[string]any{"task_key": "not-deferred", "dynamic_key": "k",
			"state": map[string]any{"type": "SCHEDULED"}}, http.StatusCreated, nil)

		conn := dialSubscription(t, ctx, srv)
		defer conn.CloseNow()
		send(t, ctx, conn, map[string]any{"type": "subscribe", "keys": []string{"add-1", "not-deferred"}, "client_id": "w1"})
		_, msg, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read task run: %v", err)
		}
		var got run
		if err := json.Unmarshal(msg, &got); err != nil || got.ID != created.ID || got.State == nil || got.State.Type != "SCHEDULED" {
			t.Fatalf("delivered %s (%v), want task run %s", msg, err, created.ID)
		}
		send(t, ctx, conn, map[string]any{"type": "ack"})

		var workers []struct {
			Identifier string   `json:"identifier"`
			TaskKeys   []string `json:"task_keys"`
		}
		app.JSON(http.MethodPost, "/api/task_workers/filter", map[string]any{"task_worker_filter": map[string]any{"task_keys": []string{"add-1"}}},
			http.StatusOK, &workers)
		if len(workers) != 1 || workers[0].Identifier != "w1" {
			t.Errorf("task workers %+v", workers)
		}
		app.JSON(http.MethodPost, "/api/task_workers/filter", map[string]any{"task_worker_filter": map[string]any{"task_keys": []string{"other"}}},
			http.StatusOK, &workers)
		if len(workers) != 0 {
			t.Errorf("task workers of another key %+v", workers)
		}

		bad := dialSubscription(t, ctx, srv)
		defer bad.CloseNow()
		send(t, ctx, bad, map[string]any{"type": "subscribe", "keys": []string{"x"}})
		if _, _, err := bad.Read(ctx); websocket.CloseStatus(err) != 4001 {
			t.Errorf("subscribe without client_id: %v, want close 4001", err)
		}
	})
}
