package events

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// backlog bounds how far the persister may fall behind the publishers.
// Prefect's persister drops events when its queue is full; here publishers
// wait instead, so a websocket client simply sends slower.
type backlog interface {
	// wait returns when there is room (or ctx is done).
	wait(ctx context.Context) error
	// add counts n published events; done counts n persisted ones.
	add(n int)
	done(n int)
	// activate is called while the persister of this process runs: with no
	// persister here, nothing can drain the count, so there is no limit.
	activate(on bool)
	// pending is how many published events are not persisted yet (-1: unknown).
	pending() int
}

// counter is the backlog of the in-process broker: publishers and the
// persister are in this process, so a count is exact.
type counter struct {
	limit int

	mu     sync.Mutex
	on     bool
	n      int
	notify chan struct{} // closed and replaced when n drops
}

func newCounter(limit int) *counter {
	return &counter{limit: limit, notify: make(chan struct{})}
}

func (c *counter) wait(ctx context.Context) error {
	for {
		c.mu.Lock()
		if !c.on || c.limit <= 0 || c.n < c.limit {
			c.mu.Unlock()
			return nil
		}
		ch := c.notify
		c.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (c *counter) add(n int) {
	c.mu.Lock()
	if c.on {
		c.n += n
	}
	c.mu.Unlock()
}

func (c *counter) done(n int) {
	c.mu.Lock()
	c.n = max(0, c.n-n)
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

func (c *counter) activate(on bool) {
	c.mu.Lock()
	c.on, c.n = on, 0
	close(c.notify)
	c.notify = make(chan struct{})
	c.mu.Unlock()
}

func (c *counter) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// streamLag is the backlog of the Redis broker: the persister's consumer
// group lag on the stream (XINFO GROUPS, Redis 7+), shared by every process.
// It keeps the lag under the stream's length cap, beyond which Redis would
// trim events the persister has not read.
type streamLag struct {
	client rueidis.Client
	group  string
	limit  int64
	every  time.Duration

	mu      sync.Mutex
	checked time.Time
	lag     int64
}

func (s *streamLag) wait(ctx context.Context) error {
	for {
		lag, err := s.current(ctx)
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		// The client can give up on a deadline a moment before the context
		// reports it; that is the caller's deadline, not an unknown lag.
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return err
		}
		if lag < s.limit {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.every):
		}
	}
}

// current is the group's lag, asked at most every s.every; an unknown lag
// (older Redis, no group yet, an error) does not hold publishers back.
func (s *streamLag) current(ctx context.Context) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.checked) < s.every {
		return s.lag, nil
	}
	s.checked, s.lag = time.Now(), 0
	groups, err := s.client.Do(ctx, s.client.B().XinfoGroups().Key(Topic).Build()).ToArray()
	if err != nil {
		return 0, err
	}
	for _, g := range groups {
		m, err := g.AsMap()
		if err != nil {
			continue
		}
		name, lag := m["name"], m["lag"]
		if n, _ := name.ToString(); n != s.group {
			continue
		}
		if lag, err := lag.AsInt64(); err == nil {
			s.lag = lag
		}
	}
	return s.lag, nil
}

func (s *streamLag) add(int)       {}
func (s *streamLag) done(int)      {}
func (s *streamLag) activate(bool) {}
func (s *streamLag) pending() int  { return -1 }
