package broker

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"
)

// TestBroker runs every case against every implementation.
func TestBroker(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, im impl)
	}{
		{"publish and subscribe", testPublishSubscribe},
		{"two groups both see all", testTwoGroups},
		{"consumers of a group split messages", testConsumersSplit},
		{"handler error redelivers", testRedelivery},
		{"cancelled consumer's batch goes to another", testCancelMidBatch},
		{"ephemeral group", testEphemeral},
		{"durable group resumes", testDurableResumes},
		{"batch size", testBatchSize},
		{"close", testClose},
		{"bad options", testBadOptions},
	}
	for _, im := range impls {
		t.Run(im.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, im)
				})
			}
		})
	}
}

func testPublishSubscribe(t *testing.T, im impl) {
	b, topic := im.new(t)
	rec := newRecorder(0)
	subscribe(t, b, topic, SubscribeOptions{Group: "g"}, rec.handle)
	waitReady(t, b, topic, rec)
	give := []Message{
		{Data: []byte("m0"), Attributes: map[string]string{"k": "v0"}},
		{Data: []byte("m1")},
		{Data: []byte("m2"), Attributes: map[string]string{"k": "v2", "x": "y"}},
	}
	if err := b.Publish(context.Background(), topic, give...); err != nil {
		t.Fatal(err)
	}
	eventually(t, "3 messages", func() bool { return len(rec.data()) == 3 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	ids := map[string]bool{}
	for i, got := range rec.msgs {
		if string(got.Data) != string(give[i].Data) || !maps.Equal(got.Attributes, give[i].Attributes) {
			t.Errorf("message %d = %+v, want %+v", i, got, give[i])
		}
		ids[got.ID] = true
	}
	if len(ids) != 3 || ids[""] {
		t.Errorf("ids = %v, want 3 distinct non-empty ids", ids)
	}
}

func testTwoGroups(t *testing.T, im impl) {
	b, topic := im.new(t)
	a, c := newRecorder(0), newRecorder(0)
	subscribe(t, b, topic, SubscribeOptions{Group: "a"}, a.handle)
	subscribe(t, b, topic, SubscribeOptions{Group: "c"}, c.handle)
	waitReady(t, b, topic, a, c)
	want := names("m", 10)
	publish(t, b, topic, want...)
	eventually(t, "both groups", func() bool { return len(a.data()) == 10 && len(c.data()) == 10 })
	if !slices.Equal(a.data(), want) || !slices.Equal(c.data(), want) {
		t.Errorf("got %v and %v, want %v", a.data(), c.data(), want)
	}
}

func testConsumersSplit(t *testing.T, im impl) {
	b, topic := im.new(t)
	c1, c2 := newRecorder(5*time.Millisecond), newRecorder(5*time.Millisecond)
	subscribe(t, b, topic, SubscribeOptions{Group: "g", Consumer: "c1"}, c1.handle)
	subscribe(t, b, topic, SubscribeOptions{Group: "g", Consumer: "c2"}, c2.handle)
	waitReady(t, b, topic, c1, c2)
	want := names("m", 40)
	publish(t, b, topic, want...)
	eventually(t, "40 messages", func() bool { return len(c1.data())+len(c2.data()) >= 40 })
	got := append(c1.data(), c2.data()...)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want each of %v once", got, want)
	}
	if len(c1.data()) == 0 || len(c2.data()) == 0 {
		t.Errorf("split %d/%d, want both consumers used", len(c1.data()), len(c2.data()))
	}
}

func testRedelivery(t *testing.T, im impl) {
	b, topic := im.new(t)
	rec := newRecorder(0, "m1")
	subscribe(t, b, topic, SubscribeOptions{Group: "g"}, rec.handle)
	waitReady(t, b, topic, rec)
	publish(t, b, topic, "m0", "m1", "m2")
	eventually(t, "3 messages", func() bool { return len(rec.data()) == 3 })
	got := rec.data()
	slices.Sort(got)
	if !slices.Equal(got, []string{"m0", "m1", "m2"}) {
		t.Errorf("handled %v", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := map[string]int{"m0": 1, "m1": 2, "m2": 1}
	if !maps.Equal(rec.attempts, want) {
		t.Errorf("attempts = %v, want %v", rec.attempts, want)
	}
}

func testCancelMidBatch(t *testing.T, im impl) {
	b, topic := im.new(t)
	got := make(chan struct{})
	stuck := func(ctx context.Context, batch []Message) error {
		if batch[0].Attributes["ping"] != "" {
			return nil
		}
		close(got)
		<-ctx.Done()
		return ctx.Err()
	}
	first := newRecorder(0)
	stopStuck := subscribe(t, b, topic, SubscribeOptions{Group: "g", Consumer: "stuck"},
		func(ctx context.Context, batch []Message) error {
			_ = first.handle(ctx, batch)
			return stuck(ctx, batch)
		})
	waitReady(t, b, topic, first)
	publish(t, b, topic, "m")
	<-got
	rec := newRecorder(0)
	subscribe(t, b, topic, SubscribeOptions{Group: "g", Consumer: "other"}, rec.handle)
	waitReady(t, b, topic, rec)
	stopStuck()
	eventually(t, "redelivery to the other consumer", func() bool { return slices.Equal(rec.data(), []string{"m"}) })
}

func testEphemeral(t *testing.T, im impl) {
	b, topic := im.new(t)
	durable := newRecorder(0) // keeps the topic alive
	subscribe(t, b, topic, SubscribeOptions{Group: "d"}, durable.handle)
	waitReady(t, b, topic, durable)
	publish(t, b, topic, "before")

	rec := newRecorder(0)
	stop := subscribe(t, b, topic, SubscribeOptions{Group: "ws", Ephemeral: true}, rec.handle)
	waitReady(t, b, topic, rec)
	if got, want := im.groups(t, b, topic), []string{"d", EphemeralPrefix + "ws"}; !slices.Equal(got, want) {
		t.Errorf("groups = %v, want %v", got, want)
	}
	publish(t, b, topic, "after")
	eventually(t, "after", func() bool { return len(rec.data()) == 1 })
	stop()
	if got := rec.data(); !slices.Equal(got, []string{"after"}) {
		t.Errorf("ephemeral got %v, want only new messages", got)
	}
	if got, want := im.groups(t, b, topic), []string{"d"}; !slices.Equal(got, want) {
		t.Errorf("groups after = %v, want %v", got, want)
	}
}

func testDurableResumes(t *testing.T, im impl) {
	b, topic := im.new(t)
	rec := newRecorder(0)
	stop := subscribe(t, b, topic, SubscribeOptions{Group: "g"}, rec.handle)
	waitReady(t, b, topic, rec)
	publish(t, b, topic, "a")
	eventually(t, "a", func() bool { return len(rec.data()) == 1 })
	stop()
	publish(t, b, topic, "b", "c")
	again := newRecorder(0)
	subscribe(t, b, topic, SubscribeOptions{Group: "g"}, again.handle)
	eventually(t, "b and c", func() bool { return slices.Equal(again.data(), []string{"b", "c"}) })
}

func testBatchSize(t *testing.T, im impl) {
	b, topic := im.new(t)
	rec := newRecorder(20 * time.Millisecond)
	subscribe(t, b, topic, SubscribeOptions{Group: "g", BatchSize: 5}, rec.handle)
	waitReady(t, b, topic, rec)
	publish(t, b, topic, names("m", 12)...)
	eventually(t, "12 messages", func() bool { return len(rec.data()) == 12 })
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if slices.Max(rec.batches) != 5 {
		t.Errorf("batch sizes %v, want at most and at least once 5", rec.batches)
	}
}

func testClose(t *testing.T, im impl) {
	b, topic := im.new(t)
	rec := newRecorder(0)
	done := make(chan error, 1)
	go func() { done <- b.Subscribe(context.Background(), topic, SubscribeOptions{Group: "g"}, rec.handle) }()
	waitReady(t, b, topic, rec)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("subscribe returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscribe did not return on close")
	}
	if err := b.Publish(context.Background(), topic, Message{}); !errors.Is(err, ErrClosed) {
		t.Errorf("publish after close = %v", err)
	}
	if err := b.Subscribe(context.Background(), topic, SubscribeOptions{Group: "g"}, rec.handle); !errors.Is(err, ErrClosed) {
		t.Errorf("subscribe after close = %v", err)
	}
}

func testBadOptions(t *testing.T, im impl) {
	b, topic := im.new(t)
	err := b.Subscribe(context.Background(), topic, SubscribeOptions{}, newRecorder(0).handle)
	if !errors.Is(err, errNoGroup) {
		t.Errorf("subscribe without group = %v", err)
	}
}
