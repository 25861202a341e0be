package events

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// readEvents reads n {"type": "event"} messages.
func readEvents(t *testing.T, conn *websocket.Conn, n int) []Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out := make([]Event, 0, n)
	for len(out) < n {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("after %d events: %v", len(out), err)
		}
		var msg struct {
			Type  string `json:"type"`
			Event Event  `json:"event"`
		}
		if err := json.Unmarshal(data, &msg); err != nil || msg.Type != "event" {
			t.Fatalf("message %s: %v", data, err)
		}
		out = append(out, msg.Event)
	}
	return out
}

func TestStreamOut(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		srv := startServer(t, d, nil)
		now := time.Now()
		// Stored before the subscriber connects: two recent, one too old to
		// backfill (15 minutes by default), one that does not match.
		past := []any{
			rawEvent("test.stream.a", "r.1", now.Add(-2*time.Minute), nil),
			rawEvent("test.stream.b", "r.1", now.Add(-time.Minute), nil),
			rawEvent("test.stream.old", "r.1", now.Add(-20*time.Minute), nil),
			rawEvent("other.event", "r.1", now.Add(-time.Minute), nil),
		}
		srv.JSON(http.MethodPost, "/api/events", past, http.StatusNoContent, nil)
		srv.waitTotal(t, map[string]any{"event": map[string]any{"prefix": []string{"test.stream", "other"}}}, 4)

		conn := srv.dial(t, "/api/events/out")
		filter := map[string]any{"type": "filter", "filter": map[string]any{
			"occurred": map[string]any{"since": now.Add(-time.Hour), "until": now.Add(24 * time.Hour)},
			"event":    map[string]any{"prefix": []string{"test.stream"}},
		}}
		if err := conn.Write(context.Background(), websocket.MessageText, mustMarshal(t, filter)); err != nil {
			t.Fatal(err)
		}
		backfill := readEvents(t, conn, 2)
		if backfill[0].Event != "test.stream.a" || backfill[1].Event != "test.stream.b" {
			t.Fatalf("backfill = %s, %s; want the two recent ones, oldest first", backfill[0].Event, backfill[1].Event)
		}
		// Live: a matching event arrives, a non-matching one does not.
		live := []any{rawEvent("other.event", "r.2", time.Now(), nil), rawEvent("test.stream.live", "r.2", time.Now(), nil)}
		srv.JSON(http.MethodPost, "/api/events", live, http.StatusNoContent, nil)
		got := readEvents(t, conn, 1)
		if got[0].Event != "test.stream.live" || got[0].Received.IsZero() {
			t.Fatalf("live = %+v", got[0])
		}
	})
}

func TestStreamOutWithoutBackfill(t *testing.T) {
	srv := startServer(t, config.SQLite, nil)
	srv.JSON(http.MethodPost, "/api/events", []any{rawEvent("test.nobackfill.past", "r", time.Now(), nil)}, http.StatusNoContent, nil)
	srv.waitTotal(t, map[string]any{"event": map[string]any{"prefix": []string{"test.nobackfill"}}}, 1)
	conn := srv.dial(t, "/api/events/out")
	msg := map[string]any{"type": "filter", "backfill": false, "filter": map[string]any{
		"occurred": map[string]any{"until": time.Now().Add(time.Hour)},
		"event":    map[string]any{"prefix": []string{"test.nobackfill"}}}}
	if err := conn.Write(context.Background(), websocket.MessageText, mustMarshal(t, msg)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	srv.JSON(http.MethodPost, "/api/events", []any{rawEvent("test.nobackfill.live", "r", time.Now(), nil)}, http.StatusNoContent, nil)
	if got := readEvents(t, conn, 1); got[0].Event != "test.nobackfill.live" {
		t.Fatalf("first event = %s, want the live one only", got[0].Event)
	}
}

func TestStreamOutRefusesBadFilters(t *testing.T) {
	tests := []struct {
		name       string
		give       string
		wantReason string
	}{
		{"not a filter message", `{"type": "auth"}`, "Expected 'filter' message"},
		{"not json", `nope`, "Expected 'filter' message"},
		{"no filter", `{"type": "filter"}`, "Invalid filter: 'filter'"},
		{"invalid filter", `{"type": "filter", "filter": {"bogus": 1}}`, "Invalid filter: "},
	}
	srv := startServer(t, config.SQLite, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := srv.dial(t, "/api/events/out")
			ctx := context.Background()
			if err := conn.Write(ctx, websocket.MessageText, []byte(tt.give)); err != nil {
				t.Fatal(err)
			}
			_, _, err := conn.Read(ctx)
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != statusProtocolError || !strings.HasPrefix(ce.Reason, tt.wantReason) {
				t.Fatalf("read = %v; want close 1002 %q", err, tt.wantReason)
			}
		})
	}
}
