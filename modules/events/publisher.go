package events

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/broker"
)

// Topic is the broker topic events travel on (Prefect's "events"). Each
// message is a ReceivedEvent as JSON with the attributes "id" and "event".
const Topic = "events"

// Dedup window of published ids (Prefect's messaging cache keeps 5 minutes).
const (
	seenTTL  = 5 * time.Minute
	seenSize = 100_000
)

// publisher puts received events on the broker: the ingest endpoints and the
// Emitter all go through it.
type publisher struct {
	broker  broker.Broker
	start   *broker.ReadyGate
	seen    *seenCache
	backlog backlog
	lim     limits
	log     *zap.Logger
}

// publish sends events to the broker and returns once it has accepted them.
// An id published in the last few minutes is not published again (Prefect's
// deduplicate_by="id": a client resends unconfirmed events after a
// reconnect), and an event above the maximum size is dropped with a warning,
// as Prefect does. While the persister is too far behind, publish waits:
// that is the backpressure that makes a busy server slow rather than lossy.
func (p *publisher) publish(ctx context.Context, evs []*Event) error {
	msgs := make([]broker.Message, 0, len(evs))
	claimed := make([]uuid.UUID, 0, len(evs))
	for _, e := range evs {
		e.normalize()
		data, err := json.Marshal(e)
		if err != nil {
			p.forget(claimed)
			return fmt.Errorf("encode event %s: %w", e.ID, err)
		}
		if len(data) > p.lim.maxBytes {
			p.log.Warn("refusing to publish an event over the maximum size", zap.Stringer("event_id", e.ID),
				zap.String("event", truncate(e.Event, 100)), zap.Int("length", len(data)))
			continue
		}
		if !p.seen.claim(e.ID) {
			continue
		}
		claimed = append(claimed, e.ID)
		msgs = append(msgs, broker.Message{Data: data, Attributes: map[string]string{"id": e.ID.String(), "event": e.Event}})
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := p.start.Wait(ctx, 30*time.Second); err != nil {
		p.forget(claimed)
		return err
	}
	if err := p.backlog.wait(ctx); err != nil {
		p.forget(claimed)
		return err
	}
	if err := p.broker.Publish(ctx, Topic, msgs...); err != nil {
		p.forget(claimed)
		return fmt.Errorf("publish %d events: %w", len(msgs), err)
	}
	p.backlog.add(len(msgs))
	return nil
}

func (p *publisher) forget(ids []uuid.UUID) {
	for _, id := range ids {
		p.seen.forget(id)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// seenCache remembers ids for a while, oldest first out.
type seenCache struct {
	ttl  time.Duration
	size int

	mu    sync.Mutex
	at    map[uuid.UUID]time.Time
	queue []seenEntry
	head  int
}

type seenEntry struct {
	id uuid.UUID
	at time.Time
}

func newSeenCache(ttl time.Duration, size int) *seenCache {
	return &seenCache{ttl: ttl, size: size, at: make(map[uuid.UUID]time.Time)}
}

// claim records id and reports whether it was not seen within the TTL.
func (c *seenCache) claim(id uuid.UUID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.expire(now)
	if t, ok := c.at[id]; ok && now.Sub(t) <= c.ttl {
		return false
	}
	c.insert(id, now)
	return true
}

// add records id as seen now.
func (c *seenCache) add(id uuid.UUID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.expire(now)
	c.insert(id, now)
}

// has reports whether id was seen within the TTL.
func (c *seenCache) has(id uuid.UUID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.at[id]
	return ok && time.Since(t) <= c.ttl
}

func (c *seenCache) insert(id uuid.UUID, now time.Time) {
	c.at[id] = now
	c.queue = append(c.queue, seenEntry{id, now})
}

// expire drops entries past the TTL or beyond the size, oldest first.
func (c *seenCache) expire(now time.Time) {
	for c.head < len(c.queue) && (now.Sub(c.queue[c.head].at) > c.ttl || len(c.queue)-c.head >= c.size) {
		old := c.queue[c.head]
		if t, ok := c.at[old.id]; ok && t.Equal(old.at) {
			delete(c.at, old.id)
		}
		c.head++
	}
	if c.head > 1024 && c.head > len(c.queue)/2 {
		c.queue = append([]seenEntry(nil), c.queue[c.head:]...)
		c.head = 0
	}
}

// forget drops id (its publish failed, so a retry must go through).
func (c *seenCache) forget(id uuid.UUID) {
	c.mu.Lock()
	delete(c.at, id)
	c.mu.Unlock()
}
