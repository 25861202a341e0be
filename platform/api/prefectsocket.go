package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/coder/websocket"
)

// AcceptPrefectSocket is Prefect's accept_prefect_socket for websocket
// routes: a client offering the "prefect" subprotocol must first send
// {"type": "auth", "token": ...} (checked against authString when one is
// set) and is answered {"type": "auth_success"}; a client without it is
// accepted as a legacy client unless authentication is configured. onPing,
// when set, sees the client's pings. It returns nil when the connection was
// refused or closed.
func AcceptPrefectSocket(ctx context.Context, w http.ResponseWriter, r *http.Request, authString string,
	onPing func(ctx context.Context, payload []byte) bool) *websocket.Conn {
	offered := false
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			offered = offered || strings.TrimSpace(p) == "prefect"
		}
	}
	if !offered && authString != "" {
		// Refusing before the upgrade, as Starlette does.
		http.Error(w, "'prefect' subprotocol required when auth is configured", http.StatusForbidden)
		return nil
	}
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{"prefect"},
		InsecureSkipVerify: true, // Prefect checks no Origin; the auth handshake is the protection
		OnPingReceived:     onPing,
	})
	if err != nil {
		return nil // Accept has answered the client
	}
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
		CloseSocket(conn, websocket.StatusPolicyViolation, "Expected 'auth' message")
		return nil
	}
	if authString != "" {
		switch {
		case msg.Token == nil || *msg.Token == "":
			CloseSocket(conn, websocket.StatusPolicyViolation, "Auth required but no token provided")
			return nil
		case subtle.ConstantTimeCompare([]byte(*msg.Token), []byte(authString)) != 1:
			CloseSocket(conn, websocket.StatusPolicyViolation, "Invalid token")
			return nil
		}
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"auth_success"}`)); err != nil {
		_ = conn.CloseNow()
		return nil
	}
	return conn
}

// CloseSocket closes with a code and a reason cut to the 123 bytes a close
// frame allows.
func CloseSocket(conn *websocket.Conn, code websocket.StatusCode, reason string) {
	if len(reason) > 123 {
		reason = reason[:123]
		for !utf8.ValidString(reason) {
			reason = reason[:len(reason)-1]
		}
	}
	_ = conn.Close(code, reason)
}

// IsDisconnect reports the normal ways a websocket peer goes away.
func IsDisconnect(err error) bool {
	return websocket.CloseStatus(err) != -1 || errors.Is(err, context.Canceled) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF)
}
