package broker

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultRetryDelay is how long a batch whose handler failed waits before it
// is delivered again.
const DefaultRetryDelay = time.Second

// Memory is the in-process broker. It keeps the semantics of the Redis one:
//
//   - Each topic is an append-only log; each group has a cursor into it and a
//     set of delivered but unacknowledged messages. Every group sees every
//     message once, shared among the consumers of the group.
//   - A handler error puts the batch back; it is delivered again to the group
//     (any of its consumers) after the retry delay, before newer messages.
//   - A group that does not exist yet starts at new messages (Redis' "$"),
//     durable or ephemeral. A durable group outlives its subscriptions and
//     resumes where it stopped; an ephemeral group is removed when its last
//     Subscribe returns.
//   - Memory stays bounded: messages are dropped as soon as every group
//     (durable or ephemeral) has acknowledged them, and messages published
//     while no group exists are dropped at once. A durable group whose
//     consumers are all gone retains its unread messages until one returns.
//
// Publish does not wait for consumers unless a backlog limit is set (see
// WithBacklogLimit). Handlers get the stored messages and must not modify
// them.
type Memory struct {
	life         *lifetime
	retryDelay   time.Duration
	backlogLimit int

	mu     sync.Mutex
	topics map[string]*memTopic
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithRetryDelay sets how long a failed batch waits before it is delivered
// again (default DefaultRetryDelay).
func WithRetryDelay(d time.Duration) MemoryOption {
	return func(m *Memory) { m.retryDelay = d }
}

// WithBacklogLimit bounds the memory a slow durable consumer can pin: Publish
// waits (until its context ends) while a durable group that has consumers is
// n or more messages behind. Publishes made from inside a handler never wait,
// so consumers that publish (to any topic) cannot deadlock one another; they
// publish at most what they consume. Ephemeral groups (live streams) and
// durable groups without consumers do not hold publishers back. n <= 0: no
// limit.
func WithBacklogLimit(n int) MemoryOption {
	return func(m *Memory) { m.backlogLimit = n }
}

// NewMemory returns an empty in-process broker.
func NewMemory(opts ...MemoryOption) *Memory {
	m := &Memory{
		life:       newLifetime(),
		retryDelay: DefaultRetryDelay,
		topics:     make(map[string]*memTopic),
	}
	for _, o := range opts {
		o(m)
	}
	return m
}

var _ Broker = (*Memory)(nil)

// Publish appends msgs to the topic's log and wakes its consumers.
func (m *Memory) Publish(ctx context.Context, topic string, msgs ...Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	if m.life.isClosed() {
		return ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	if m.backlogLimit > 0 && ctx.Value(inHandlerKey{}) == nil {
		if err := m.waitForRoom(ctx, topic); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.topic(topic)
	for _, msg := range msgs {
		t.log = append(t.log, Message{
			ID:         strconv.FormatUint(t.end(), 10),
			Data:       bytes.Clone(msg.Data),
			Attributes: maps.Clone(msg.Attributes),
		})
	}
	t.trim()
	t.broadcast()
	return nil
}

// Subscribe delivers the topic's messages to h until ctx is done or the
// broker is closed.
func (m *Memory) Subscribe(ctx context.Context, topic string, opts SubscribeOptions, h Handler) error {
	opts, err := normalize(opts)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	ctx, leave, err := m.life.enter(ctx)
	if err != nil {
		return fmt.Errorf("subscribe to %s: %w", topic, err)
	}
	defer leave()

	m.mu.Lock()
	t := m.topic(topic)
	g := t.join(opts.Group, opts.Ephemeral)
	m.mu.Unlock()
	defer m.leave(t, opts.Group)
	if opts.Ready != nil {
		opts.Ready()
	}

	handlerCtx := context.WithValue(ctx, inHandlerKey{}, true)
	for {
		batch, seqs, wake, wait := m.claim(t, g, opts.Consumer, opts.BatchSize)
		if len(batch) == 0 {
			if !sleep(ctx, wake, wait) {
				return nil
			}
			continue
		}
		err := h(handlerCtx, batch)
		m.settle(t, g, seqs, err != nil)
		if ctx.Err() != nil {
			return nil
		}
	}
}

// Close stops every subscription, waits for them, and makes Publish fail.
func (m *Memory) Close() error {
	m.life.close()
	return nil
}

// inHandlerKey marks the context a handler runs with.
type inHandlerKey struct{}

// waitForRoom returns once no durable group with consumers is backlogLimit
// or more messages behind on topic, or with the context's error. Concurrent
// publishers may overshoot the limit by their own batches; it bounds memory,
// it is not an exact quota.
func (m *Memory) waitForRoom(ctx context.Context, topic string) error {
	for {
		m.mu.Lock()
		t := m.topic(topic)
		if t.maxDurableLag() < uint64(m.backlogLimit) {
			m.mu.Unlock()
			return nil
		}
		if t.room == nil {
			t.room = make(chan struct{})
		}
		room := t.room
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish to %s: waiting for consumers to catch up: %w", topic, ctx.Err())
		case <-m.life.ctx.Done():
			return ErrClosed
		case <-room:
		}
	}
}

// topic returns the named topic, creating it; m.mu must be held.
func (m *Memory) topic(name string) *memTopic {
	t, ok := m.topics[name]
	if !ok {
		t = &memTopic{base: 1, groups: make(map[string]*memGroup), wake: make(chan struct{})}
		m.topics[name] = t
	}
	return t
}

// claim hands consumer up to n messages: failed ones that are due again first,
// then new ones. With nothing to hand out it returns the channel closed on the
// next change and how long until a failed message is due (-1: none waits).
func (m *Memory) claim(t *memTopic, g *memGroup, consumer string, n int) ([]Message, []uint64, <-chan struct{}, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	wait := time.Duration(-1)
	var seqs []uint64
	for seq, p := range g.pending {
		switch {
		case p.owner != "":
		case !p.retryAt.After(now):
			seqs = append(seqs, seq)
		case wait < 0 || p.retryAt.Sub(now) < wait:
			wait = p.retryAt.Sub(now)
		}
	}
	slices.Sort(seqs)
	seqs = seqs[:min(len(seqs), n)]
	for len(seqs) < n && g.next < t.end() {
		seqs = append(seqs, g.next)
		g.pending[g.next] = &memPending{}
		g.next++
	}
	batch := make([]Message, len(seqs))
	for i, seq := range seqs {
		g.pending[seq].owner = consumer
		batch[i] = t.log[seq-t.base]
	}
	return batch, seqs, t.wake, wait
}

// settle acknowledges a handled batch, or puts a failed one back.
func (m *Memory) settle(t *memTopic, g *memGroup, seqs []uint64, failed bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !failed {
		for _, seq := range seqs {
			delete(g.pending, seq)
		}
		t.trim()
		t.signalRoom()
		return
	}
	retryAt := time.Now().Add(m.retryDelay)
	for _, seq := range seqs {
		g.pending[seq].owner = ""
		g.pending[seq].retryAt = retryAt
	}
	t.broadcast()
}

// leave removes a consumer from its group, and an ephemeral group with it
// when it was the last one.
func (m *Memory) leave(t *memTopic, group string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := t.groups[group]
	g.consumers--
	if g.ephemeral && g.consumers == 0 {
		delete(t.groups, group)
		t.trim()
		t.broadcast()
	}
	t.signalRoom() // a group without consumers no longer holds publishers
}

// sleep waits for ctx, wake or, if wait >= 0, wait; false when ctx is done.
func sleep(ctx context.Context, wake <-chan struct{}, wait time.Duration) bool {
	var timeout <-chan time.Time
	if wait >= 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		timeout = timer.C
	}
	select {
	case <-ctx.Done():
		return false
	case <-wake:
	case <-timeout:
	}
	return true
}

// memTopic is one topic's log; all fields are guarded by Memory.mu.
type memTopic struct {
	base   uint64    // sequence number of log[0]; the first message is 1
	log    []Message // messages some group still needs
	groups map[string]*memGroup
	wake   chan struct{} // closed (and replaced) when consumers should look again
	room   chan struct{} // closed (and cleared) when waiting publishers should look again
}

// signalRoom wakes the publishers waiting for consumers to catch up.
func (t *memTopic) signalRoom() {
	if t.room != nil {
		close(t.room)
		t.room = nil
	}
}

// maxDurableLag is how far the slowest durable group with consumers is behind.
func (t *memTopic) maxDurableLag() uint64 {
	var lag uint64
	for _, g := range t.groups {
		if !g.ephemeral && g.consumers > 0 {
			lag = max(lag, t.end()-g.low())
		}
	}
	return lag
}

// end is the sequence number the next published message gets.
func (t *memTopic) end() uint64 { return t.base + uint64(len(t.log)) }

func (t *memTopic) broadcast() {
	close(t.wake)
	t.wake = make(chan struct{})
}

func (t *memTopic) join(name string, ephemeral bool) *memGroup {
	g, ok := t.groups[name]
	if !ok {
		g = &memGroup{ephemeral: ephemeral, next: t.end(), pending: make(map[uint64]*memPending)}
		t.groups[name] = g
	}
	g.consumers++
	return g
}

// trim drops the messages every group has acknowledged.
func (t *memTopic) trim() {
	low := t.end()
	for _, g := range t.groups {
		low = min(low, g.low())
	}
	n := low - t.base
	if n == 0 {
		return
	}
	clear(t.log[:n])
	t.log = t.log[n:]
	if len(t.log) == 0 {
		t.log = nil // let the old array go
	}
	t.base = low
}

// memGroup is a consumer group's position in a topic.
type memGroup struct {
	ephemeral bool
	consumers int
	next      uint64                 // first message never delivered to the group
	pending   map[uint64]*memPending // delivered, not yet acknowledged
}

// low is the oldest message the group still needs.
func (g *memGroup) low() uint64 {
	low := g.next
	for seq := range g.pending {
		low = min(low, seq)
	}
	return low
}

// memPending is a delivered message: owned by the consumer handling it, or
// waiting until retryAt after its handler failed.
type memPending struct {
	owner   string
	retryAt time.Time
}
