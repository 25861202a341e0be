package logs

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
)

// topic is the broker topic of new logs (Prefect's "logs").
const topic = "logs"

// subscriptionBacklog is how many logs may wait for one websocket before
// newer ones are dropped for it (Prefect's SUBSCRIPTION_BACKLOG).
const subscriptionBacklog = 256

// streamConfig is Prefect's server.logs settings, and the open websockets,
// which stopping the server closes (Shutdown does not wait for them).
type streamConfig struct {
	publish    bool // PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED
	out        bool // PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED
	authString string

	ctx    context.Context // ends when the server stops
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newStreamConfig(lc fx.Lifecycle, svc config.Services, cfg config.API) (*streamConfig, error) {
	publish, err := svc.Enabled("PREFECT_SERVER_LOGS_STREAM_PUBLISHING_ENABLED", false)
	if err != nil {
		return nil, err
	}
	out, err := svc.Enabled("PREFECT_SERVER_LOGS_STREAM_OUT_ENABLED", false)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := &streamConfig{publish: publish, out: out, authString: cfg.AuthString, ctx: ctx, cancel: cancel}
	lc.Append(fx.StopHook(func(ctx context.Context) error {
		cancel()
		done := make(chan struct{})
		go func() { sc.wg.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}))
	return sc, nil
}

func marshalLog(l *Log) ([]byte, error) { return json.Marshal(l) }

// out is the websocket /logs/out (Prefect's stream_logs_out): after the auth
// handshake the client sends {"type": "filter", "filter": {...}}; the server
// then sends each new matching log as {"type": "log", "log": {...}}. There
// is no backfill. Logs flow only when the stream settings are enabled.
func (h *handlers) out(w http.ResponseWriter, r *http.Request) {
	sc := h.stream
	if sc.ctx.Err() != nil {
		http.Error(w, "server is stopping", http.StatusServiceUnavailable)
		return
	}
	sc.wg.Add(1)
	defer sc.wg.Done()
	ctx, cancel := context.WithCancel(sc.ctx)
	defer cancel()
	conn := acceptPrefectSocket(ctx, w, r, sc.authString)
	if conn == nil {
		return
	}
	defer conn.CloseNow() //nolint:errcheck // closing a closed socket
	_, data, err := conn.Read(ctx)
	if err != nil {
		return
	}
	var msg struct {
		Type   string          `json:"type"`
		Filter json.RawMessage `json:"filter"`
	}
	if json.Unmarshal(data, &msg) != nil || msg.Type != "filter" {
		_ = conn.Close(websocket.StatusProtocolError, "Expected 'filter' message")
		return
	}
	var f logFilter
	if len(msg.Filter) > 0 && string(msg.Filter) != "null" {
		if err := api.DecodeRaw(msg.Filter, &f); err != nil {
			_ = conn.Close(websocket.StatusProtocolError, truncate("Invalid filter: "+err.Error()))
			return
		}
	}
	logs := make(chan *Log, subscriptionBacklog)
	// The client sends nothing more: reading notices it going away.
	go func() {
		defer cancel()
		for {
			if _, _, err := conn.Read(ctx); err != nil {
				return
			}
		}
	}()
	if sc.out {
		ready := make(chan struct{})
		var once sync.Once
		go func() {
			defer once.Do(func() { close(ready) })
			opts := broker.SubscribeOptions{Group: "logs-out", Ephemeral: true, BatchSize: 100,
				Ready: func() { once.Do(func() { close(ready) }) }}
			err := h.broker.Subscribe(ctx, topic, opts, func(_ context.Context, batch []broker.Message) error {
				for _, m := range batch {
					var l Log
					if json.Unmarshal(m.Data, &l) != nil || !f.matches(&l) {
						continue
					}
					select {
					case logs <- &l:
					default: // a slow client loses logs, as in Prefect
					}
				}
				return nil
			})
			if err != nil && ctx.Err() == nil {
				h.log.Warn("log stream subscription ended", zap.Error(err))
				cancel()
			}
		}()
		select {
		case <-ready:
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
	for {
		select {
		case <-ctx.Done():
			if sc.ctx.Err() != nil {
				_ = conn.Close(websocket.StatusGoingAway, "server stopping")
			}
			return
		case l := <-logs:
			b, _ := json.Marshal(map[string]any{"type": "log", "log": l}) // a Log always marshals
			if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
				return
			}
		}
	}
}

// acceptPrefectSocket is api.AcceptPrefectSocket.
func acceptPrefectSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, authString string) *websocket.Conn {
	return api.AcceptPrefectSocket(ctx, w, r, authString, nil)
}

// truncate cuts a close reason to the 123 bytes a close frame allows.
func truncate(s string) string {
	for len(s) > 123 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
