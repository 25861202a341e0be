package events

import (
	"context"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/prefect-server/prefect-server/platform/api"
)

// Websocket close codes Prefect uses.
const (
	statusProtocolError   = websocket.StatusProtocolError   // 1002
	statusPolicyViolation = websocket.StatusPolicyViolation // 1008
)

// maxFrame is the largest websocket message read (uvicorn's default
// ws_max_size); larger events are then dropped by size, as Prefect does.
const maxFrame = 16 << 20

// sockets tracks the open websockets so that stopping the server closes
// them: the HTTP server's Shutdown does not wait for hijacked connections,
// and every event read must be published before the persister stops.
type sockets struct {
	mu      sync.Mutex
	closing bool
	cancels map[*context.CancelFunc]struct{}
	wg      sync.WaitGroup
}

func newSockets() *sockets { return &sockets{cancels: map[*context.CancelFunc]struct{}{}} }

// open registers a connection; its context ends when the server stops.
// done must be called when the handler returns. ok is false when stopping.
func (s *sockets) open() (ctx context.Context, done func(), ok bool) {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		cancel()
		return nil, nil, false
	}
	s.cancels[&cancel] = struct{}{}
	s.wg.Add(1)
	return ctx, func() {
		cancel()
		s.mu.Lock()
		delete(s.cancels, &cancel)
		s.mu.Unlock()
		s.wg.Done()
	}, true
}

// stopping reports whether the server is stopping.
func (s *sockets) stopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// stop ends every connection and waits for their handlers (or ctx).
func (s *sockets) stop(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	for c := range s.cancels {
		(*c)()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// acceptPrefectSocket is api.AcceptPrefectSocket with this module's frame
// limit.
func acceptPrefectSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, authString string,
	onPing func(ctx context.Context, payload []byte) bool) *websocket.Conn {
	conn := api.AcceptPrefectSocket(ctx, w, r, authString, onPing)
	if conn != nil {
		conn.SetReadLimit(maxFrame)
	}
	return conn
}

// closeWith is api.CloseSocket.
func closeWith(conn *websocket.Conn, code websocket.StatusCode, reason string) {
	api.CloseSocket(conn, code, reason)
}

// isDisconnect is api.IsDisconnect.
func isDisconnect(err error) bool { return api.IsDisconnect(err) }
