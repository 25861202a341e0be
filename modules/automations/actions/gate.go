package actions

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// readyGate holds dispatching until this process's executor, when one is to
// run, has joined its consumer group: a group that does not exist yet is
// delivered only what is published after it joined, so an action
// dispatched earlier (by a trigger firing at start-up) would be lost.
type readyGate struct {
	expected atomic.Bool
	once     sync.Once
	ch       chan struct{}
}

func newReadyGate() *readyGate { return &readyGate{ch: make(chan struct{})} }

// expect says an executor will run in this process.
func (g *readyGate) expect() { g.expected.Store(true) }

// open lets dispatchers through, for good.
func (g *readyGate) open() { g.once.Do(func() { close(g.ch) }) }

// wait returns once open, at once when no executor is expected, and after
// limit at the latest.
func (g *readyGate) wait(ctx context.Context, limit time.Duration) error {
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
