package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/types"
)

// testServer is the platform with this module, its services running, served
// on a real listener (websockets need one).
type testServer struct {
	*platformtest.App
	URL string // http://host:port
}

func startServer(t testing.TB, d config.Dialect, change func(*config.Config), opts ...fx.Option) *testServer {
	t.Helper()
	cfg := platformtest.DefaultConfig(t, d)
	cfg.Services.RunServices = true
	if change != nil {
		change(&cfg)
	}
	app := platformtest.NewWithConfig(t, cfg, append([]fx.Option{Module}, opts...)...)
	srv := httptest.NewServer(app.Handler)
	t.Cleanup(srv.Close)
	return &testServer{App: app, URL: srv.URL}
}

// dial opens a websocket with the "prefect" subprotocol and authenticates.
func (s *testServer) dial(t testing.TB, path string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.URL, "http")+path,
		&websocket.DialOptions{Subprotocols: []string{"prefect"}})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	conn.SetReadLimit(maxFrame)
	t.Cleanup(func() { _ = conn.CloseNow() })
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"auth","token":null}`)); err != nil {
		t.Fatalf("send auth: %v", err)
	}
	_, msg, err := conn.Read(ctx)
	if err != nil || string(msg) != `{"type":"auth_success"}` {
		t.Fatalf("auth answer %q, %v", msg, err)
	}
	return conn
}

// rawEvent is an incoming event as a client sends it.
func rawEvent(name, resourceID string, occurred time.Time, extra map[string]any) map[string]any {
	e := map[string]any{
		"occurred": occurred.UTC().Format(time.RFC3339Nano),
		"event":    name,
		"resource": map[string]string{LabelID: resourceID},
		"id":       uuid.NewString(),
	}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// page is the body of /events/filter.
type page struct {
	Events   []Event `json:"events"`
	Total    int     `json:"total"`
	NextPage *string `json:"next_page"`
}

// waitTotal polls POST /events/filter until it reports want events.
func (s *testServer) waitTotal(t *testing.T, filter map[string]any, want int) page {
	t.Helper()
	var got page
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		s.JSON(http.MethodPost, "/api/events/filter", map[string]any{"filter": filter}, http.StatusOK, &got)
		if got.Total == want {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("total = %d, want %d", got.Total, want)
	return got
}

// migrations is this module's migration set, for tests on a bare database.
func migrations() migrate.Set {
	return migrate.Set{Module: "events", FS: migrationsFS, Dir: "migrations"}
}

// newTestRepo is a repo on a fresh migrated database.
func newTestRepo(t *testing.T, d config.Dialect) *repo {
	return &repo{db: dbtest.Open(t, d, migrations())}
}

// ev builds an Event for storage tests.
func ev(name, resourceID string, occurred time.Time, related ...Labels) *Event {
	if related == nil {
		related = []Labels{}
	}
	return &Event{ID: uuid.New(), Occurred: tsFrom(occurred), Event: name, Resource: L(LabelID, resourceID),
		Related: related, Payload: json.RawMessage(`{}`), Received: tsFrom(occurred)}
}

func ids(evs []*Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Event + "@" + e.Resource.ID()
	}
	return out
}

func fmtList(v []string) string { return fmt.Sprint(v) }

func tsFrom(t time.Time) types.DateTime { return types.From(t) }
