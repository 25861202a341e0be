package events

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
)

// subscriptionBacklog is how many live events may wait for one subscriber
// before newer ones are dropped for it (Prefect's SUBSCRIPTION_BACKLOG).
const subscriptionBacklog = 256

// distributor fans the live events of this process's one ephemeral broker
// subscription out to the /events/out subscribers whose filter they match
// (Prefect's stream.distributor). It starts with the first subscriber and
// stops with the server.
type distributor struct {
	broker  broker.Broker
	enabled bool
	log     *zap.Logger

	mu      sync.Mutex
	subs    map[chan *Event]*EventFilter
	cancel  context.CancelFunc
	running bool
	ready   chan struct{} // closed once the subscription has joined
	done    chan struct{}
}

func newDistributor(b broker.Broker, cfg config.Events, log *zap.Logger) *distributor {
	ready := make(chan struct{})
	if !cfg.StreamOut {
		close(ready) // nothing to wait for: no live events
	}
	return &distributor{broker: b, enabled: cfg.StreamOut, log: log, subs: map[chan *Event]*EventFilter{}, ready: ready}
}

// subscribe registers a subscriber; it must call unsubscribe. It returns
// once the live subscription receives every event published from then on.
func (d *distributor) subscribe(ctx context.Context, f *EventFilter) chan *Event {
	ch := make(chan *Event, subscriptionBacklog)
	d.mu.Lock()
	d.subs[ch] = f
	if d.enabled && !d.running {
		d.start()
	}
	ready := d.ready
	d.mu.Unlock()
	select {
	case <-ready:
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
	}
	return ch
}

func (d *distributor) unsubscribe(ch chan *Event) {
	d.mu.Lock()
	delete(d.subs, ch)
	d.mu.Unlock()
}

// start runs the subscription; d.mu is held.
func (d *distributor) start() {
	ctx, cancel := context.WithCancel(context.Background())
	ready, done := make(chan struct{}), make(chan struct{})
	d.cancel, d.running, d.ready, d.done = cancel, true, ready, done
	var once sync.Once
	opened := func() { once.Do(func() { close(ready) }) }
	go func() {
		defer close(done)
		defer opened()
		opts := broker.SubscribeOptions{Group: "stream", Ephemeral: true, BatchSize: 100, Ready: opened}
		err := d.broker.Subscribe(ctx, Topic, opts, d.handle)
		if err != nil && ctx.Err() == nil {
			d.log.Error("live event stream stopped", zap.Error(err))
		}
		d.mu.Lock()
		d.running = false
		d.mu.Unlock()
	}()
}

// stop ends the subscription and waits for it.
func (d *distributor) stop(ctx context.Context) error {
	d.mu.Lock()
	cancel, done := d.cancel, d.done
	d.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handle never blocks: a subscriber that is behind loses events, not others.
func (d *distributor) handle(_ context.Context, batch []broker.Message) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.subs) == 0 {
		return nil
	}
	for _, m := range batch {
		var e Event
		if err := json.Unmarshal(m.Data, &e); err != nil {
			continue
		}
		for ch, f := range d.subs {
			if !f.includes(&e) {
				continue
			}
			select {
			case ch <- &e:
			default:
			}
		}
	}
	return nil
}

// eventsOut is the websocket /events/out (Prefect's
// stream_workspace_events_out): after the auth handshake the client sends
// {"type": "filter", "filter": {...}, "backfill": true}; the server sends the
// matching events of the recent past (at most the maximum backfill), oldest
// first, then the live ones, each as {"type": "event", "event": {...}}.
func (h *handlers) eventsOut(w http.ResponseWriter, r *http.Request) {
	ctx, done, ok := h.sockets.open()
	if !ok {
		http.Error(w, "the server is stopping", http.StatusServiceUnavailable)
		return
	}
	defer done()
	conn := acceptPrefectSocket(ctx, w, r, h.authString, nil)
	if conn == nil {
		return
	}
	defer conn.CloseNow() //nolint:errcheck // the close frame was sent or the peer is gone
	_, data, err := conn.Read(ctx)
	if err != nil {
		return
	}
	var msg struct {
		Type     string          `json:"type"`
		Filter   json.RawMessage `json:"filter"`
		Backfill *bool           `json:"backfill"`
	}
	if json.Unmarshal(data, &msg) != nil || msg.Type != "filter" {
		closeWith(conn, statusProtocolError, "Expected 'filter' message")
		return
	}
	now := time.Now()
	if len(msg.Filter) == 0 {
		closeWith(conn, statusProtocolError, "Invalid filter: 'filter'")
		return
	}
	f, err := decodeFilter(msg.Filter, now, "filter")
	if err != nil {
		closeWith(conn, statusProtocolError, "Invalid filter: "+err.Error())
		return
	}
	f.Occurred.clamp(h.cfg.MaximumWebsocketBackfill, now)
	f.Order = OrderASC
	// The client sends nothing more; reading in the background answers its
	// pings and notices when it goes.
	ctx = conn.CloseRead(ctx)

	// Subscribe before the backfill so that nothing falls in between.
	live := h.dist.subscribe(ctx, f)
	defer h.dist.unsubscribe(live)
	backfilled := map[uuid.UUID]bool{}
	if msg.Backfill == nil || *msg.Backfill {
		if err := h.backfill(ctx, conn, f, backfilled); err != nil {
			h.closeStream(ctx, conn, err)
			return
		}
	}
	for {
		select {
		case <-ctx.Done():
			h.closeStream(ctx, conn, ctx.Err())
			return
		case e := <-live:
			if backfilled[e.ID] {
				delete(backfilled, e.ID)
				continue
			}
			if err := sendEvent(ctx, conn, e); err != nil {
				return
			}
		}
	}
}

// backfill sends the stored events matching f, page by page.
func (h *handlers) backfill(ctx context.Context, conn *websocket.Conn, f *EventFilter, sent map[uuid.UUID]bool) error {
	size := h.cfg.WebsocketBackfillPageSize
	total, err := h.repo.count(ctx, f)
	if err != nil {
		return err
	}
	for offset := 0; offset < total; offset += size {
		page, err := h.repo.query(ctx, f, size, offset)
		if err != nil {
			return err
		}
		for _, e := range page {
			sent[e.ID] = true
			if err := sendEvent(ctx, conn, e); err != nil {
				return err
			}
		}
		if len(page) < size {
			break
		}
	}
	return nil
}

func (h *handlers) closeStream(ctx context.Context, conn *websocket.Conn, err error) {
	if h.sockets.stopping() {
		closeWith(conn, statusRestart, "Server is stopping")
		return
	}
	if ctx.Err() == nil && err != nil {
		h.log.Warn("event stream failed", zap.Error(err))
		closeWith(conn, websocket.StatusInternalError, "Could not read events")
	}
}

func sendEvent(ctx context.Context, conn *websocket.Conn, e *Event) error {
	b, err := json.Marshal(struct {
		Type  string `json:"type"`
		Event *Event `json:"event"`
	}{"event", e})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return conn.Write(ctx, websocket.MessageText, b)
}
