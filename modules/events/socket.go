package events

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/coder/websocket"
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

// acceptPrefectSocket is Prefect's accept_prefect_socket: a client offering
// the "prefect" subprotocol must first send {"type": "auth", "token": ...}
// (checked against the server's auth string when one is set) and is answered
// {"type": "auth_success"}; a client without it is accepted as a legacy
// client unless authentication is configured. It returns nil when the
// connection was refused or closed.
func acceptPrefectSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, authString string,
	onPing func(ctx context.Context, payload []byte) bool) *websocket.Conn {
	offered := false
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			offered = offered || strings.TrimSpace(p) == "prefect"
		}
	}
	if !offered && authString != "" {
		// Closing before accepting refuses the upgrade, as Starlette does.
		http.Error(w, "'prefect' subprotocol required when auth is configured", http.StatusForbidden)
		return nil
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"prefect"},
		// Prefect checks no Origin; the auth handshake is the protection.
		InsecureSkipVerify: true,
		OnPingReceived:     onPing,
	})
	if err != nil {
		return nil // Accept has answered the client
	}
	conn.SetReadLimit(maxFrame)
	if !offered {
		return conn
	}
	typ, data, err := conn.Read(ctx)
	if err != nil {
		_ = conn.CloseNow()
		return nil
	}
	var msg struct {
		Type  string  `json:"type"`
		Token *string `json:"token"`
	}
	if typ != websocket.MessageText || json.Unmarshal(data, &msg) != nil || msg.Type != "auth" {
		closeWith(conn, statusPolicyViolation, "Expected 'auth' message")
		return nil
	}
	if authString != "" {
		switch {
		case msg.Token == nil || *msg.Token == "":
			closeWith(conn, statusPolicyViolation, "Auth required but no token provided")
			return nil
		case subtle.ConstantTimeCompare([]byte(*msg.Token), []byte(authString)) != 1:
			closeWith(conn, statusPolicyViolation, "Invalid token")
			return nil
		}
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_success"}`)); err != nil {
		_ = conn.CloseNow()
		return nil
	}
	return conn
}

// closeWith closes with a code and a reason cut to the 123 bytes a close
// frame allows.
func closeWith(conn *websocket.Conn, code websocket.StatusCode, reason string) {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	_ = conn.Close(code, reason)
}

// isDisconnect reports the normal ways a peer goes away.
func isDisconnect(err error) bool {
	return websocket.CloseStatus(err) != -1 || errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF)
}
