package events

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Ingest tuning: how many read events may wait for the publisher, and the
// most published in one broker call.
const (
	ingestQueue = 1024
	ingestBatch = 500
)

// statusRestart tells a client to reconnect (the server is stopping); the
// Prefect clients treat it as an error and resend what was not confirmed.
const statusRestart = websocket.StatusServiceRestart

// eventsIn is the websocket /events/in, spoken as PrefectEventsClient does:
// after the auth handshake, one event (JSON) per text frame and no reply.
// The client's ping is its receipt: once it has its pong it forgets every
// event sent before the ping, and after a reconnect it resends the others.
// So the pong for a ping is sent only once every event read before it is
// accepted by the broker. Events are read in order by this goroutine and
// published in batches by another one; the ping callback, which runs inside
// Read before the pong is written, waits for the publisher to catch up.
func (h *handlers) eventsIn(w http.ResponseWriter, r *http.Request) {
	ctx, done, ok := h.sockets.open()
	if !ok {
		http.Error(w, "the server is stopping", http.StatusServiceUnavailable)
		return
	}
	defer done()
	in := &ingest{pub: h.pub, log: h.log, items: make(chan *Event, ingestQueue), changed: make(chan struct{})}
	conn := acceptPrefectSocket(ctx, w, r, h.authString, in.onPing)
	if conn == nil {
		return
	}
	defer conn.CloseNow() //nolint:errcheck // the close frame was sent or the peer is gone
	pubCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	published := make(chan struct{})
	go func() {
		defer close(published)
		in.publishLoop(pubCtx, cancel)
	}()

	invalid := ""
	for {
		_, data, err := conn.Read(pubCtx)
		if err != nil {
			if !isDisconnect(err) {
				h.log.Debug("events websocket read failed", zap.Error(err))
			}
			break
		}
		e, errs := parseEvent(data, h.lim, types.Now())
		if errs != nil {
			invalid = "Invalid event: " + describe(errs)
			break
		}
		in.read.Add(1)
		select {
		case in.items <- e:
		case <-pubCtx.Done():
		}
		if pubCtx.Err() != nil {
			break
		}
	}
	close(in.items)
	<-published
	switch {
	case invalid != "":
		// The events before the invalid one are published; the client is
		// told why its connection ends (Prefect just drops it).
		closeWith(conn, statusProtocolError, invalid)
	case ctx.Err() != nil:
		closeWith(conn, statusRestart, "Server is stopping")
	case in.failure() != nil:
		closeWith(conn, websocket.StatusInternalError, "Could not accept events; please retry")
	}
}

// ingest is one /events/in connection's state.
type ingest struct {
	pub   *publisher
	log   *zap.Logger
	items chan *Event
	read  atomic.Uint64 // events read, in order (written by the reader only)

	mu        sync.Mutex
	published uint64
	failed    error
	changed   chan struct{} // closed and replaced when published or failed changes
}

// publishLoop publishes what the reader hands over, as many at a time as
// are waiting. On failure it cancels the connection: what was not published
// was not confirmed, so the client will send it again.
func (in *ingest) publishLoop(ctx context.Context, cancel context.CancelFunc) {
	for e := range in.items {
		batch := []*Event{e}
	more:
		for len(batch) < ingestBatch {
			select {
			case e, ok := <-in.items:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		err := in.pub.publish(ctx, batch)
		in.mu.Lock()
		if err != nil {
			in.failed = err
		} else {
			in.published += uint64(len(batch))
		}
		close(in.changed)
		in.changed = make(chan struct{})
		in.mu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				in.log.Warn("could not publish events; the client will resend them", zap.Error(err))
			}
			cancel()
			for range in.items { //nolint:revive // drain so the reader never blocks
			}
			return
		}
	}
}

// onPing answers a ping only once every event read before it is published.
func (in *ingest) onPing(ctx context.Context, _ []byte) bool {
	target := in.read.Load()
	for {
		in.mu.Lock()
		published, failed, ch := in.published, in.failed, in.changed
		in.mu.Unlock()
		switch {
		case failed != nil:
			return false
		case published >= target:
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		}
	}
}

func (in *ingest) failure() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.failed
}

// createEvents is POST /events: a list of events, all valid or none taken.
func (h *handlers) createEvents(w http.ResponseWriter, r *http.Request) error {
	var items []json.RawMessage
	if err := api.Decode(r, &items); err != nil {
		return err
	}
	now := types.Now()
	evs := make([]*Event, 0, len(items))
	var errs []api.FieldError
	for i, raw := range items {
		e, fe := parseEvent(raw, h.lim, now)
		for _, f := range fe {
			f.Loc = append([]any{"body", i}, f.Loc...)
			errs = append(errs, f)
		}
		evs = append(evs, e)
	}
	if len(errs) > 0 {
		var body any
		_ = json.Unmarshal(mustJSON(items), &body)
		return &api.ValidationError{Errors: errs, Body: body}
	}
	if err := h.pub.publish(r.Context(), evs); err != nil {
		return err
	}
	return api.NoContent(w)
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
