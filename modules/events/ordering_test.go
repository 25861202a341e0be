package events

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := NewMemoryOrdering(OrderingOptions{MaxDepth: tt.maxDepth})
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
}

func TestOrderingOldEventsDoNotWait(t *testing.T) {
	o := NewMemoryOrdering(OrderingOptions{Lookback: time.Minute})
	e := chain("a", "b")[1]
	e.Received = tsFrom(time.Now().Add(-2 * time.Minute))
	rec := &recorder{}
	if err := o.Process(context.Background(), e, rec.handle); err != nil || !slices.Equal(rec.got(), []string{"b"}) {
		t.Fatalf("old follower: %v, %v", err, rec.got())
	}
}

func TestOrderingLostFollowers(t *testing.T) {
	o := NewMemoryOrdering(OrderingOptions{Lookback: time.Minute}).(*memoryOrdering)
	now := time.Now()
	o.now = func() time.Time { return now }
	follower := chain("a", "b")[1]
	if err := o.Process(context.Background(), follower, (&recorder{}).handle); !errors.Is(err, ErrArrivedEarly) {
		t.Fatalf("process = %v, want ErrArrivedEarly", err)
	}
	if lost, _ := o.LostFollowers(context.Background()); len(lost) != 0 {
		t.Fatalf("lost too early: %v", ids(lost))
	}
	now = now.Add(2 * time.Minute)
	lost, _ := o.LostFollowers(context.Background())
	if len(lost) != 1 || lost[0].ID != follower.ID {
		t.Fatalf("lost = %v, want the follower", ids(lost))
	}
	if again, _ := o.LostFollowers(context.Background()); len(again) != 0 {
		t.Fatalf("lost followers are returned once, got %v again", ids(again))
	}
}

// TestOrderingInFlightLeader: a follower whose leader is being handled
// waits for it rather than being parked.
func TestOrderingInFlightLeader(t *testing.T) {
	o := NewMemoryOrdering(OrderingOptions{Poll: 5 * time.Millisecond})
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
	go func() { done <- o.Process(context.Background(), evs[0], slow) }()
	<-started
	go func() { time.Sleep(30 * time.Millisecond); close(release) }()
	if err := o.Process(context.Background(), evs[1], slow); err != nil {
		t.Fatalf("follower of an in-flight leader: %v", err)
	}
	if err := <-done; err != nil || !slices.Equal(rec.got(), []string{"a", "b"}) {
		t.Fatalf("leader: %v, order %v", err, rec.got())
	}
	// The same event twice at once is refused.
	block := make(chan struct{})
	e := ev("c", "r", time.Now())
	go func() {
		_ = o.Process(context.Background(), e, func(context.Context, *Event) error { <-block; return nil })
	}()
	time.Sleep(10 * time.Millisecond)
	if err := o.Process(context.Background(), e, rec.handle); !errors.Is(err, ErrBeingProcessed) {
		t.Fatalf("concurrent duplicate = %v, want ErrBeingProcessed", err)
	}
	close(block)
}

// TestOrderingFailedLeader: a leader whose handling fails is not seen, so
// its followers keep waiting; handled again, it releases them.
func TestOrderingFailedLeader(t *testing.T) {
	o := NewMemoryOrdering(OrderingOptions{})
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
}
