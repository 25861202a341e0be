package events

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// slowBroker publishes after a delay and counts what it accepted on the
// events topic, so a test can tell "published" from "sent".
type slowBroker struct {
	broker.Broker
	delay     time.Duration
	published atomic.Int64
}

func (b *slowBroker) Publish(ctx context.Context, topic string, msgs ...broker.Message) error {
	time.Sleep(b.delay)
	if err := b.Broker.Publish(ctx, topic, msgs...); err != nil {
		return err
	}
	if topic == Topic {
		b.published.Add(int64(len(msgs)))
	}
	return nil
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name        string
		auth        string
		subprotocol bool
		give        string // first message; "" sends none
		wantStatus  int    // HTTP status when the upgrade is refused
		wantClose   websocket.StatusCode
		wantReason  string
	}{
		{name: "auth without a server auth string", subprotocol: true, give: `{"type":"auth","token":null}`},
		{name: "first message not auth", subprotocol: true, give: `{"type":"filter"}`, wantClose: statusPolicyViolation, wantReason: "Expected 'auth' message"},
		{name: "first message not json", subprotocol: true, give: `hello`, wantClose: statusPolicyViolation, wantReason: "Expected 'auth' message"},
		{name: "legacy client without subprotocol", subprotocol: false},
		{name: "legacy client refused with auth", auth: "u:p", subprotocol: false, wantStatus: http.StatusForbidden},
		{name: "missing token", auth: "u:p", subprotocol: true, give: `{"type":"auth"}`, wantClose: statusPolicyViolation, wantReason: "Auth required but no token provided"},
		{name: "wrong token", auth: "u:p", subprotocol: true, give: `{"type":"auth","token":"x"}`, wantClose: statusPolicyViolation, wantReason: "Invalid token"},
		{name: "right token", auth: "u:p", subprotocol: true, give: `{"type":"auth","token":"u:p"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, config.SQLite, func(c *config.Config) { c.API.AuthString = tt.auth })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			opts := &websocket.DialOptions{}
			if tt.subprotocol {
				opts.Subprotocols = []string{"prefect"}
			}
			conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/api/events/in", opts)
			if tt.wantStatus != 0 {
				if err == nil || resp == nil || resp.StatusCode != tt.wantStatus {
					t.Fatalf("dial = %v, %v; want HTTP %d", resp, err, tt.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			if tt.give != "" {
				if err := conn.Write(ctx, websocket.MessageText, []byte(tt.give)); err != nil {
					t.Fatal(err)
				}
			}
			if tt.wantClose != 0 {
				_, _, err := conn.Read(ctx)
				var ce websocket.CloseError
				if !asClose(err, &ce) || ce.Code != tt.wantClose || ce.Reason != tt.wantReason {
					t.Fatalf("read = %v; want close %d %q", err, tt.wantClose, tt.wantReason)
				}
				return
			}
			if tt.give != "" {
				_, msg, err := conn.Read(ctx)
				if err != nil || string(msg) != `{"type":"auth_success"}` {
					t.Fatalf("auth answer %q %v", msg, err)
				}
			}
			e := rawEvent("test.handshake", "r.1", time.Now(), nil)
			if err := conn.Write(ctx, websocket.MessageText, mustMarshal(t, e)); err != nil {
				t.Fatal(err)
			}
			srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.handshake"}}}, 1)
		})
	}
}

func asClose(err error, ce *websocket.CloseError) bool { return errors.As(err, ce) }

// TestPingIsReceipt: the pong to a ping comes only after every event sent
// before it is accepted by the broker, which is what the client's
// checkpoint relies on to forget its unconfirmed events.
func TestPingIsReceipt(t *testing.T) {
	slow := &slowBroker{delay: 30 * time.Millisecond}
	srv := startServer(t, config.SQLite, nil, fx.Decorate(func(b broker.Broker) broker.Broker { slow.Broker = b; return slow }))
	conn := srv.dial(t, "/api/events/in")
	ctx := conn.CloseRead(context.Background())
	const n = 300
	for i := range n {
		e := rawEvent("test.receipt", "r."+string(rune('a'+i%26)), time.Now(), nil)
		if err := conn.Write(ctx, websocket.MessageText, mustMarshal(t, e)); err != nil {
			t.Fatal(err)
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		t.Fatal(err)
	}
	if got := slow.published.Load(); got != n {
		t.Fatalf("at the pong %d events were published, want all %d", got, n)
	}
	srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.receipt"}}}, n)
}

// TestInvalidEventClosesOnlyItsConnection: an invalid event ends its own
// connection with a reason; the events before it are kept; other clients
// carry on.
func TestInvalidEventClosesOnlyItsConnection(t *testing.T) {
	srv := startServer(t, config.SQLite, nil)
	bad, good := srv.dial(t, "/api/events/in"), srv.dial(t, "/api/events/in")
	ctx := context.Background()
	send := func(c *websocket.Conn, v any) {
		t.Helper()
		if err := c.Write(ctx, websocket.MessageText, mustMarshal(t, v)); err != nil {
			t.Fatal(err)
		}
	}
	send(bad, rawEvent("test.before-invalid", "r.1", time.Now(), nil))
	send(bad, map[string]any{"event": "x", "resource": map[string]any{"a": "b"}})
	_, _, err := bad.Read(ctx)
	var ce websocket.CloseError
	if !asClose(err, &ce) || ce.Code != statusProtocolError || !strings.HasPrefix(ce.Reason, "Invalid event: occurred: Field required") {
		t.Fatalf("invalid event: %v; want close 1002 with the reason", err)
	}
	for range 5 {
		send(good, rawEvent("test.other-client", "r.2", time.Now(), nil))
	}
	srv.waitTotal(t, map[string]any{"event": map[string]any{"prefix": []string{"test.before-invalid"}}}, 1)
	srv.waitTotal(t, map[string]any{"event": map[string]any{"prefix": []string{"test.other-client"}}}, 5)
}

// TestResentEventsStoredOnce: a client resends its unconfirmed events after a
// reconnect; each is stored once.
func TestResentEventsStoredOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		srv := startServer(t, d, nil)
		evs := make([][]byte, 50)
		for i := range evs {
			evs[i] = mustMarshal(t, rawEvent("test.resent", "r.1", time.Now(), nil))
		}
		var wg sync.WaitGroup
		for range 3 {
			conn := srv.dial(t, "/api/events/in")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, e := range evs {
					_ = conn.Write(context.Background(), websocket.MessageText, e)
				}
			}()
		}
		wg.Wait()
		srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.resent"}}}, len(evs))
		time.Sleep(200 * time.Millisecond)
		srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.resent"}}}, len(evs))
	})
}

func TestPostEvents(t *testing.T) {
	srv := startServer(t, config.SQLite, nil)
	good := rawEvent("test.post", "r.1", time.Now(), map[string]any{
		"related": []map[string]string{{LabelID: "prefect.flow.1", LabelRole: "flow"}}, "payload": map[string]any{"a": []int{1}}})
	srv.JSON(http.MethodPost, "/api/events", []any{good}, http.StatusNoContent, nil)
	got := srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.post"}}}, 1)
	if string(got.Events[0].Payload) != `{"a":[1]}` || got.Events[0].Related[0].Role() != "flow" || got.Events[0].Received.IsZero() {
		t.Fatalf("stored event = %+v", got.Events[0])
	}

	tests := []struct {
		name     string
		give     any
		wantType string
		wantLoc  string
	}{
		{"not a list", map[string]any{"a": 1}, "list_type", `["body"]`},
		{"missing fields", []any{map[string]any{"event": "x"}}, "missing", `["body",0,"occurred"]`},
		{"resource without id", []any{rawEvent("x", "r", time.Now(), map[string]any{"resource": map[string]string{"a": "b"}})}, "value_error", `["body",0,"resource"]`},
		{"label not a string", []any{rawEvent("x", "r", time.Now(), map[string]any{"resource": map[string]any{LabelID: "a", "n": 1}})}, "string_type", `["body",0,"resource","n"]`},
		{"related without role", []any{good, rawEvent("x", "r", time.Now(), map[string]any{"related": []any{map[string]string{LabelID: "b"}}})}, "value_error", `["body",1,"related",0]`},
		{"bad uuid", []any{rawEvent("x", "r", time.Now(), map[string]any{"id": "nope"})}, "uuid_parsing", `["body",0,"id"]`},
		{"bad date", []any{rawEvent("x", "r", time.Now(), map[string]any{"occurred": "yesterday"})}, "value_error", `["body",0,"occurred"]`},
		{"payload not an object", []any{rawEvent("x", "r", time.Now(), map[string]any{"payload": []int{1}})}, "dict_type", `["body",0,"payload"]`},
		{"name too long", []any{rawEvent(strings.Repeat("x", 1025), "r", time.Now(), nil)}, "value_error", `["body",0,"event"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := srv.Invalid(http.MethodPost, "/api/events", tt.give)
			if got.Type != tt.wantType || string(got.Loc) != tt.wantLoc {
				t.Fatalf("got %s at %s (%s), want %s at %s", got.Type, got.Loc, got.Msg, tt.wantType, tt.wantLoc)
			}
		})
	}
	srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.post"}}}, 1)
}
