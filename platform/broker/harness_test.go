package broker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// impl builds one broker implementation for a test.
type impl struct {
	name string
	// new returns a fresh broker, closed when the test ends, and a topic name
	// unique to the test.
	new func(t *testing.T) (Broker, string)
	// groups lists the topic's consumer groups.
	groups func(t *testing.T, b Broker, topic string) []string
}

var impls = []impl{
	{
		name: "memory",
		new: func(t *testing.T) (Broker, string) {
			b := NewMemory(WithRetryDelay(50 * time.Millisecond))
			t.Cleanup(func() { _ = b.Close() })
			return b, "topic"
		},
		groups: func(_ *testing.T, b Broker, topic string) []string {
			m := b.(*Memory)
			m.mu.Lock()
			defer m.mu.Unlock()
			var names []string
			for name := range m.topic(topic).groups {
				names = append(names, name)
			}
			slices.Sort(names)
			return names
		},
	},
	{
		name: "redis",
		new: func(t *testing.T) (Broker, string) {
			b, prefix := newTestRedis(t, RedisOptions{})
			return b, prefix + "topic"
		},
		groups: func(t *testing.T, b Broker, topic string) []string {
			return redisGroups(t, b.(*Redis), topic)
		},
	},
}

// newTestRedis returns a Redis broker with short timeouts (opts' non-zero
// fields win) and a key prefix unique to the test.
func newTestRedis(t *testing.T, opts RedisOptions) (*Redis, string) {
	c := redistest.Client(t)
	prefix := redistest.Prefix(t, c)
	opts.Block = cmpOr(opts.Block, 100*time.Millisecond)
	opts.ClaimTimeout = cmpOr(opts.ClaimTimeout, 300*time.Millisecond)
	opts.ClaimInterval = cmpOr(opts.ClaimInterval, 100*time.Millisecond)
	opts.RetryDelay = cmpOr(opts.RetryDelay, 50*time.Millisecond)
	opts.Logger = zaptest.NewLogger(t)
	b := NewRedis(c, opts)
	t.Cleanup(func() { _ = b.Close() })
	return b, prefix
}

func cmpOr(a, b time.Duration) time.Duration {
	if a != 0 {
		return a
	}
	return b
}

// recorder is a test handler: it records the messages it handled, counts
// "ping" messages apart, and can fail the first delivery of chosen messages.
type recorder struct {
	delay time.Duration

	mu       sync.Mutex
	msgs     []Message
	batches  []int
	pings    int
	attempts map[string]int
	failOnce map[string]bool // data -> already failed
}

func newRecorder(delay time.Duration, failOnce ...string) *recorder {
	r := &recorder{delay: delay, attempts: make(map[string]int), failOnce: make(map[string]bool)}
	for _, d := range failOnce {
		r.failOnce[d] = false
	}
	return r
}

func (r *recorder) handle(ctx context.Context, batch []Message) error {
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var real []Message
	fail := false
	for _, m := range batch {
		if m.Attributes["ping"] != "" {
			r.pings++
			continue
		}
		real = append(real, m)
		r.attempts[string(m.Data)]++
		if failed, ok := r.failOnce[string(m.Data)]; ok && !failed {
			r.failOnce[string(m.Data)] = true
			fail = true
		}
	}
	if fail {
		return errors.New("handler failed on purpose")
	}
	r.msgs = append(r.msgs, real...)
	r.batches = append(r.batches, len(batch))
	return nil
}

// data returns the data of the handled messages, in order.
func (r *recorder) data() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.msgs))
	for i, m := range r.msgs {
		out[i] = string(m.Data)
	}
	return out
}

func (r *recorder) pinged() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pings > 0
}

// subscribe runs Subscribe in a goroutine; the returned stop (also run when
// the test ends) cancels it and waits for it to return nil.
func subscribe(t *testing.T, b Broker, topic string, opts SubscribeOptions, h Handler) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Subscribe(ctx, topic, opts, h) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("subscribe returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("subscribe did not return")
		}
	})
	t.Cleanup(stop)
	return stop
}

// waitReady publishes pings until every recorder has handled one, so that
// their groups exist and their consumers are reading.
func waitReady(t *testing.T, b Broker, topic string, recs ...*recorder) {
	t.Helper()
	eventually(t, "subscribers ready", func() bool {
		if err := b.Publish(context.Background(), topic, Message{Attributes: map[string]string{"ping": "1"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		return !slices.ContainsFunc(recs, func(r *recorder) bool { return !r.pinged() })
	})
}

// eventually polls cond for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publish(t *testing.T, b Broker, topic string, data ...string) {
	t.Helper()
	msgs := make([]Message, len(data))
	for i, d := range data {
		msgs[i] = Message{Data: []byte(d)}
	}
	if err := b.Publish(context.Background(), topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}
