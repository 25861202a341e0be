// Package broker is the platform's message broker: one interface with an
// in-process implementation and a Redis Streams implementation. Feature
// modules publish and consume through it and never know which one runs.
package broker

import (
	"context"
	"errors"
)

// Message is one unit published to a topic.
type Message struct {
	// ID is assigned by the broker on publish (a Redis stream id, or a
	// sequence number in memory); it is empty on the publishing side.
	ID         string
	Data       []byte
	Attributes map[string]string
}

// Handler processes a batch of messages. Returning nil acknowledges the whole
// batch; returning an error leaves every message of it unacknowledged, so it
// is delivered again (to this or another consumer of the same group).
type Handler func(ctx context.Context, batch []Message) error

// SubscribeOptions shapes one subscription.
type SubscribeOptions struct {
	// Group is the consumer group. Consumers of one group share the messages
	// of the topic (each message handled once per group); different groups each
	// see every message.
	Group string
	// Consumer names this consumer inside the group (defaults to a random id).
	Consumer string
	// Ephemeral groups start at new messages only and are removed when the
	// subscription ends (e.g. a websocket subscriber).
	Ephemeral bool
	// BatchSize is the most messages handed to one Handler call (default 1).
	BatchSize int
	// Ready, if set, is called once the subscription has joined its group:
	// every message published from then on reaches it.
	Ready func()
}

// Broker publishes and delivers messages, at least once per consumer group.
type Broker interface {
	// Publish returns once the messages are accepted by the broker: for Redis,
	// once XADD has answered; for memory, once they are queued.
	Publish(ctx context.Context, topic string, msgs ...Message) error
	// Subscribe delivers messages of topic to h until ctx is done, then
	// returns nil. It returns an error only when it cannot subscribe at all.
	Subscribe(ctx context.Context, topic string, opts SubscribeOptions, h Handler) error
	// Close releases the broker's resources.
	Close() error
}

// ErrClosed is returned by Publish after Close.
var ErrClosed = errors.New("broker: closed")
