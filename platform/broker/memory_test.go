package broker

import (
	"context"
	"testing"
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
