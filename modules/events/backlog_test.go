package events

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// TestBackpressure: with the persister this many events behind, publishing
// waits until it catches up instead of queueing without bound.
func TestBackpressure(t *testing.T) {
	b := broker.NewMemory()
	defer b.Close()
	c := newCounter(10)
	pub := &publisher{broker: b, start: broker.NewReadyGate(), seen: newSeenCache(seenTTL, seenSize), backlog: c,
		lim: newLimits(platformDefaults(t)), log: zaptest.NewLogger(t)}
	ctx := context.Background()
	if err := pub.publish(ctx, manyEvents(10)); err != nil {
		t.Fatal(err)
	}
	c.activate(true)
	if err := pub.publish(ctx, manyEvents(10)); err != nil {
		t.Fatal(err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- pub.publish(ctx, manyEvents(1)) }()
	select {
	case err := <-blocked:
		t.Fatalf("publish did not wait with 10 events pending: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	c.done(5)
	if err := <-blocked; err != nil || c.pending() != 6 {
		t.Fatalf("after the persister caught up: %v, pending %d", err, c.pending())
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	c.add(10)
	if err := pub.publish(waitCtx, manyEvents(1)); err == nil {
		t.Fatal("a publish past its deadline succeeded while blocked")
	}
	// What could not be published may be sent again.
	if err := pub.publish(ctx, manyEvents(0)); err != nil {
		t.Fatal(err)
	}
}

// TestRedisBroker: the whole path on the Redis broker, and the stream lag
// that holds publishers back there.
func TestRedisBroker(t *testing.T) {
	rc := redistest.Client(t)
	ctx := context.Background()
	if err := rc.Do(ctx, rc.B().Del().Key(Topic).Build()).Error(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, config.SQLite, func(c *config.Config) {
		c.Events.MessagingBroker, c.Redis.URL = config.KindRedis, os.Getenv(redistest.EnvURL)
	})
	conn := srv.dial(t, "/api/events/in")
	for range 20 {
		if err := conn.Write(ctx, 1, mustMarshal(t, rawEvent("test.redis", "r.1", time.Now(), nil))); err != nil {
			t.Fatal(err)
		}
	}
	srv.waitTotal(t, map[string]any{"event": map[string]any{"name": []string{"test.redis"}}}, 20)

	lag := &streamLag{client: rc, group: persisterGroup, limit: 5, every: time.Millisecond}
	if got, err := lag.current(ctx); err != nil || got != 0 {
		t.Fatalf("lag of a caught-up persister = %d (%v)", got, err)
	}
	other := &streamLag{client: rc, group: "nobody-reads", limit: 5, every: time.Millisecond}
	if err := rc.Do(ctx, rc.B().XgroupCreate().Key(Topic).Group("nobody-reads").Id("0").Build()).Error(); err != nil {
		t.Fatal(err)
	}
	if got, err := other.current(ctx); err != nil || got < 20 {
		t.Fatalf("lag of a group that read nothing = %d (%v), want at least 20", got, err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := other.wait(waitCtx); err == nil {
		t.Fatal("wait returned with the lag over the limit")
	}
}
