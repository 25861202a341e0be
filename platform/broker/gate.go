package broker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ReadyGate holds publishers until this process's durable consumer, when
// one is to run, has joined its group: a group that does not exist yet is
// delivered only what is published after it joined, so a message published
// earlier would never reach it.
type ReadyGate struct {
	expected atomic.Bool
	once     sync.Once
	ch       chan struct{}
}

// NewReadyGate returns a closed-for-now gate that expects no consumer.
func NewReadyGate() *ReadyGate { return &ReadyGate{ch: make(chan struct{})} }

// Expect says a consumer will run in this process (call it before start).
func (g *ReadyGate) Expect() { g.expected.Store(true) }

// Open lets publishers through, for good.
func (g *ReadyGate) Open() { g.once.Do(func() { close(g.ch) }) }

// Wait returns once open, at once when no consumer is expected, and after
// limit at the latest.
func (g *ReadyGate) Wait(ctx context.Context, limit time.Duration) error {
	if !g.expected.Load() {
		return nil
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-g.ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}
