package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// chain makes events that each follow the previous one, received now.
func chain(names ...string) []*Event {
	out := make([]*Event, len(names))
	now := time.Now()
	for i, n := range names {
		out[i] = ev(n, "r", now.Add(time.Duration(i)*time.Millisecond))
		out[i].Received = tsFrom(now)
		if i > 0 {
			id := out[i-1].ID
			out[i].Follows = &id
		}
	}
	return out
}

// recorder is a handler that records the order events are handled in.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) handle(_ context.Context, e *Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, e.Event)
	return nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.seen)
}

// orderingImpls are the implementations every ordering test runs on; open
// runs in the implementation's own subtest (where a missing Redis skips) and
// returns a maker of fresh orderings (the Redis ones under a key prefix of
// that subtest), which the tests may call from their own subtests.
var orderingImpls = []struct {
	name string
	open func(t *testing.T) func(opts OrderingOptions) CausalOrdering
}{
	{name: "memory", open: func(*testing.T) func(OrderingOptions) CausalOrdering {
		return func(opts OrderingOptions) CausalOrdering { return NewMemoryOrdering(opts) }
	}},
	{name: "redis", open: func(t *testing.T) func(OrderingOptions) CausalOrdering {
		c := redistest.Client(t)
		prefix := redistest.Prefix(t, c)
		n := 0
		return func(opts OrderingOptions) CausalOrdering {
			n++
			return NewRedisOrdering(c, fmt.Sprintf("%s%d:triggers", prefix, n), opts)
		}
	}},
}

func forEachOrdering(t *testing.T, test func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering)) {
	for _, impl := range orderingImpls {
		t.Run(impl.name, func(t *testing.T) { test(t, impl.open(t)) })
	}
}

// setClock replaces an ordering's clock.
func setClock(t *testing.T, o CausalOrdering, now func() time.Time) {
	switch o := o.(type) {
	case *memoryOrdering:
		o.now = now
	case *redisOrdering:
		o.now = now
	default:
		t.Fatalf("no clock in %T", o)
	}
}

func TestOrderingDelivery(t *testing.T) {
	tests := []struct {
		name      string
		arrive    []int // indexes into chain("a", "b", "c", "d") in arrival order
		wantEarly int   // how many Process calls return ErrArrivedEarly
		wantOrder []string
		maxDepth  int
	}{
		{name: "in order", arrive: []int{0, 1, 2}, wantOrder: []string{"a", "b", "c"}},
		{name: "follower first", arrive: []int{1, 0}, wantEarly: 1, wantOrder: []string{"a", "b"}},
		{name: "reversed chain", arrive: []int{3, 2, 1, 0}, wantEarly: 3, wantOrder: []string{"a", "b", "c", "d"}},
		{name: "shuffled", arrive: []int{2, 0, 3, 1}, wantEarly: 2, wantOrder: []string{"a", "b", "c", "d"}},
		{name: "depth bounded", arrive: []int{3, 2, 1, 0}, wantEarly: 3, wantOrder: []string{"a", "b", "c"}, maxDepth: 2},
		{name: "parked twice handled once", arrive: []int{1, 1, 0}, wantEarly: 2, wantOrder: []string{"a", "b"}},
	}
	forEachOrdering(t, func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := newOrdering(OrderingOptions{MaxDepth: tt.maxDepth})
				evs := chain("a", "b", "c", "d")
				rec := &recorder{}
				early := 0
				for _, i := range tt.arrive {
					err := o.Process(context.Background(), evs[i], rec.handle)
					switch {
					case errors.Is(err, ErrArrivedEarly):
						early++
					case err != nil:
						t.Fatalf("process %s: %v", evs[i].Event, err)
					}
				}
				if early != tt.wantEarly || !slices.Equal(rec.got(), tt.wantOrder) {
					t.Fatalf("early %d, order %v; want %d, %v", early, rec.got(), tt.wantEarly, tt.wantOrder)
				}
			})
		}
	})
}

func TestOrderingOldEventsDoNotWait(t *testing.T) {
	forEachOrdering(t, func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering) {
		o := newOrdering(OrderingOptions{Lookback: time.Minute})
		e := chain("a", "b")[1]
		e.Received = tsFrom(time.Now().Add(-2 * time.Minute))
		rec := &recorder{}
		if err := o.Process(context.Background(), e, rec.handle); err != nil || !slices.Equal(rec.got(), []string{"b"}) {
			t.Fatalf("old follower: %v, %v", err, rec.got())
		}
	})
}

func TestOrderingLostFollowers(t *testing.T) {
	forEachOrdering(t, func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering) {
		o := newOrdering(OrderingOptions{Lookback: time.Minute})
		now := time.Now()
		setClock(t, o, func() time.Time { return now })
		follower := chain("a", "b")[1]
		if err := o.Process(context.Background(), follower, (&recorder{}).handle); !errors.Is(err, ErrArrivedEarly) {
			t.Fatalf("process = %v, want ErrArrivedEarly", err)
		}
		if lost, err := o.LostFollowers(context.Background()); err != nil || len(lost) != 0 {
			t.Fatalf("lost too early: %v, %v", ids(lost), err)
		}
		now = now.Add(2 * time.Minute)
		lost, err := o.LostFollowers(context.Background())
		if err != nil || len(lost) != 1 || lost[0].ID != follower.ID || lost[0].Event != follower.Event {
			t.Fatalf("lost = %v, %v; want the follower", ids(lost), err)
		}
		if again, _ := o.LostFollowers(context.Background()); len(again) != 0 {
			t.Fatalf("lost followers are returned once, got %v again", ids(again))
		}
	})
}

// TestOrderingInFlightLeader: a follower whose leader is being handled
// waits for it rather than being parked.
func TestOrderingInFlightLeader(t *testing.T) {
	forEachOrdering(t, func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering) {
		o := newOrdering(OrderingOptions{Poll: 5 * time.Millisecond})
		testInFlightLeader(t, o, o)
	})
}

// testInFlightLeader runs a leader on a and its follower on b while the
// leader is being handled, then the same event on both at once.
func testInFlightLeader(t *testing.T, a, b CausalOrdering) {
	evs := chain("a", "b")
	rec := &recorder{}
	release := make(chan struct{})
	started := make(chan struct{})
	slow := func(ctx context.Context, e *Event) error {
		if e.Event == "a" {
			close(started)
			<-release
		}
		return rec.handle(ctx, e)
	}
	done := make(chan error, 1)
	go func() { done <- a.Process(context.Background(), evs[0], slow) }()
	<-started
	go func() { time.Sleep(30 * time.Millisecond); close(release) }()
	if err := b.Process(context.Background(), evs[1], slow); err != nil {
		t.Fatalf("follower of an in-flight leader: %v", err)
	}
	if err := <-done; err != nil || !slices.Equal(rec.got(), []string{"a", "b"}) {
		t.Fatalf("leader: %v, order %v", err, rec.got())
	}
	// The same event twice at once is refused.
	block := make(chan struct{})
	blocked := make(chan struct{})
	first := make(chan error, 1)
	e := ev("c", "r", time.Now())
	go func() {
		first <- a.Process(context.Background(), e, func(context.Context, *Event) error { close(blocked); <-block; return nil })
	}()
	<-blocked
	if err := b.Process(context.Background(), e, rec.handle); !errors.Is(err, ErrBeingProcessed) {
		t.Fatalf("concurrent duplicate = %v, want ErrBeingProcessed", err)
	}
	close(block)
	if err := <-first; err != nil {
		t.Fatalf("first of the duplicates: %v", err)
	}
}

// TestOrderingInFlightTimeout: a follower stops waiting for a leader that
// stays in flight longer than the in-flight timeout and is parked, then
// handled right after the leader, as in Prefect.
func TestOrderingInFlightTimeout(t *testing.T) {
	forEachOrdering(t, func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering) {
		o := newOrdering(OrderingOptions{Poll: 5 * time.Millisecond, InFlightTimeout: 50 * time.Millisecond})
		testInFlightTimeout(t, o, o)
	})
}

func testInFlightTimeout(t *testing.T, a, b CausalOrdering) {
	evs := chain("a", "b")
	rec := &recorder{}
	release := make(chan struct{})
	started := make(chan struct{})
	stuck := func(ctx context.Context, e *Event) error {
		if e.Event == "a" {
			close(started)
			<-release
		}
		return rec.handle(ctx, e)
	}
	done := make(chan error, 1)
	go func() { done <- a.Process(context.Background(), evs[0], stuck) }()
	<-started
	if err := b.Process(context.Background(), evs[1], stuck); !errors.Is(err, ErrArrivedEarly) {
		t.Fatalf("follower of a stuck leader = %v, want ErrArrivedEarly", err)
	}
	close(release)
	if err := <-done; err != nil || !slices.Equal(rec.got(), []string{"a", "b"}) {
		t.Fatalf("leader: %v, order %v", err, rec.got())
	}
}

// TestOrderingFailedLeader: a leader whose handling fails is not seen, so
// its followers keep waiting; handled again, it releases them.
func TestOrderingFailedLeader(t *testing.T) {
	forEachOrdering(t, func(t *testing.T, newOrdering func(OrderingOptions) CausalOrdering) {
		o := newOrdering(OrderingOptions{})
		evs := chain("a", "b")
		rec := &recorder{}
		if err := o.Process(context.Background(), evs[1], rec.handle); !errors.Is(err, ErrArrivedEarly) {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := o.Process(context.Background(), evs[0], func(context.Context, *Event) error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("failing leader = %v", err)
		}
		if len(rec.got()) != 0 {
			t.Fatalf("followers of a failed leader ran: %v", rec.got())
		}
		if err := o.Process(context.Background(), evs[0], rec.handle); err != nil || !slices.Equal(rec.got(), []string{"a", "b"}) {
			t.Fatalf("retry: %v, %v", err, rec.got())
		}
		self := ev("self", "r", time.Now())
		self.Follows = &self.ID
		if err := o.Process(context.Background(), self, rec.handle); err != nil {
			t.Fatalf("an event following itself does not wait: %v", err)
		}
	})
}
