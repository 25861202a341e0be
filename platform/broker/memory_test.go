package broker

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func logLen(m *Memory, topic string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.topic(topic).log)
}

func TestMemoryTrim(t *testing.T) {
	m := NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	publish(t, m, "t", "nobody listens")
	if n := logLen(m, "t"); n != 0 {
		t.Errorf("log holds %d messages without groups, want 0", n)
	}

	rec := newRecorder(0)
	stop := subscribe(t, m, "t", SubscribeOptions{Group: "g"}, rec.handle)
	waitReady(t, m, "t", rec)
	publish(t, m, "t", names("m", 10)...)
	eventually(t, "10 messages", func() bool { return len(rec.data()) == 10 })
	eventually(t, "log trimmed", func() bool { return logLen(m, "t") == 0 })

	stop() // the durable group stays and keeps what it has not read
	publish(t, m, "t", names("n", 5)...)
	if n := logLen(m, "t"); n != 5 {
		t.Errorf("log holds %d messages for a stopped durable group, want 5", n)
	}
	again := newRecorder(0)
	subscribe(t, m, "t", SubscribeOptions{Group: "g"}, again.handle)
	eventually(t, "5 messages", func() bool { return len(again.data()) == 5 })
	eventually(t, "log trimmed", func() bool { return logLen(m, "t") == 0 })
}

func TestMemoryEphemeralOnlyDropsAfterDelivery(t *testing.T) {
	m := NewMemory()
	t.Cleanup(func() { _ = m.Close() })
	rec := newRecorder(0)
	stop := subscribe(t, m, "t", SubscribeOptions{Ephemeral: true}, rec.handle)
	waitReady(t, m, "t", rec)
	publish(t, m, "t", "a", "b")
	eventually(t, "2 messages", func() bool { return len(rec.data()) == 2 })
	eventually(t, "log trimmed", func() bool { return logLen(m, "t") == 0 })
	stop()
	if err := m.Publish(context.Background(), "t", Message{Data: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if n := logLen(m, "t"); n != 0 {
		t.Errorf("log holds %d messages after the ephemeral group left", n)
	}
}

func TestMemoryBacklogLimitHoldsPublishersUntilDurableConsumersCatchUp(t *testing.T) {
	m := NewMemory(WithBacklogLimit(3))
	t.Cleanup(func() { _ = m.Close() })

	release := make(chan struct{})
	var got []string
	var mu sync.Mutex
	ready := make(chan struct{})
	go func() {
		_ = m.Subscribe(context.Background(), "t", SubscribeOptions{Group: "slow", Ready: func() { close(ready) }},
			func(ctx context.Context, batch []Message) error {
				<-release
				mu.Lock()
				first := len(got) == 0
				mu.Unlock()
				if first { // a handler's own publishes never wait, even to a full topic
					if err := m.Publish(ctx, "t", Message{Data: []byte("from-handler")}); err != nil {
						return err
					}
				}
				mu.Lock()
				for _, msg := range batch {
					got = append(got, string(msg.Data))
				}
				mu.Unlock()
				return nil
			})
	}()
	<-ready
	// A live stream that never reads does not hold publishers back.
	stream, cancelStream := context.WithCancel(context.Background())
	defer cancelStream()
	go func() {
		_ = m.Subscribe(stream, "t", SubscribeOptions{Ephemeral: true}, func(ctx context.Context, _ []Message) error {
			<-ctx.Done()
			return nil
		})
	}()

	publish(t, m, "t", "a", "b", "c")
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := m.Publish(short, "t", Message{Data: []byte("d")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("publish past the limit: %v, want it to wait until its deadline", err)
	}

	done := make(chan error, 1)
	go func() { done <- m.Publish(context.Background(), "t", Message{Data: []byte("e")}) }()
	select {
	case err := <-done:
		t.Fatalf("publish returned (%v) while the consumer was stuck", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("publish after the consumer caught up: %v", err)
	}
	eventually(t, "every message consumed", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(got, "e")
	})
	if d := slices.Index(got, "d"); d >= 0 {
		t.Errorf("the publish that gave up was stored: %v", got)
	}
}

func TestMemoryBacklogLimitIgnoresGroupsWithoutConsumers(t *testing.T) {
	m := NewMemory(WithBacklogLimit(2))
	t.Cleanup(func() { _ = m.Close() })
	rec := newRecorder(0)
	stop := subscribe(t, m, "t", SubscribeOptions{Group: "g"}, rec.handle)
	waitReady(t, m, "t", rec)
	stop() // the durable group keeps its place but has no consumer now
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := range 10 {
		if err := m.Publish(ctx, "t", Message{Data: []byte{byte(i)}}); err != nil {
			t.Fatalf("publish %d with no consumer running: %v", i, err)
		}
	}
}
