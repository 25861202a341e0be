package events

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Causal ordering (Prefect's prefect.server.events.ordering): an event may
// say it follows another one (Event.Follows). A consumer that cares, such as
// the triggers of automations, handles such an event only after the one it
// follows, waiting a bounded time for it.

// Errors of CausalOrdering.Process.
var (
	// ErrArrivedEarly: the event was parked until the event it follows is
	// handled; it is handled then (or returned by LostFollowers).
	ErrArrivedEarly = errors.New("event arrived before the event it follows")
	// ErrMaxDepth: a chain of followers is too long (or a cycle).
	ErrMaxDepth = errors.New("too many events follow one another")
	// ErrBeingProcessed: the event is being handled already (a redelivery).
	ErrBeingProcessed = errors.New("event is being processed already")
)

// Handler handles one event for a consumer.
type Handler func(ctx context.Context, e *Event) error

// CausalOrdering orders one consumer's handling of events.
type CausalOrdering interface {
	// Process runs h on e once the event it follows was handled (or is
	// older than the lookback, or never came), then on the events that were
	// waiting for e, in the order they occurred. It returns ErrArrivedEarly
	// when e must wait: the consumer may acknowledge the message, e is kept.
	Process(ctx context.Context, e *Event, h Handler) error
	// LostFollowers returns, and forgets, events that waited longer than the
	// lookback for an event that never came; the consumer handles them anyway.
	LostFollowers(ctx context.Context) ([]*Event, error)
}

// OrderingOptions tune the memory ordering; zero values take Prefect's.
type OrderingOptions struct {
	Lookback        time.Duration // PRECEDING_EVENT_LOOKBACK, 15 minutes
	SeenFor         time.Duration // SEEN_EXPIRATION, 30 minutes
	InFlightTimeout time.Duration // IN_FLIGHT_EVENT_TIMEOUT, 8 seconds
	Poll            time.Duration // how often a follower polls an in-flight leader, 250ms
	MaxDepth        int           // MAX_DEPTH_OF_PRECEDING_EVENT, 20
}

func (o OrderingOptions) withDefaults() OrderingOptions {
	if o.Lookback <= 0 {
		o.Lookback = 15 * time.Minute
	}
	if o.SeenFor <= 0 {
		o.SeenFor = max(o.Lookback, 30*time.Minute)
	}
	if o.InFlightTimeout <= 0 {
		o.InFlightTimeout = 8 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 20
	}
	return o
}

// memoryOrdering is the in-process ordering (ordering.memory), for one
// consumer in one process.
type memoryOrdering struct {
	opts OrderingOptions
	now  func() time.Time

	mu         sync.Mutex
	processing map[uuid.UUID]bool
	seen       *seenCache
	followers  map[uuid.UUID]map[uuid.UUID]bool // leader -> followers
	waiting    map[uuid.UUID]*Event             // parked followers
}

// NewMemoryOrdering returns an in-process causal ordering.
func NewMemoryOrdering(opts OrderingOptions) CausalOrdering {
	opts = opts.withDefaults()
	return &memoryOrdering{opts: opts, now: time.Now, processing: map[uuid.UUID]bool{},
		seen: newSeenCache(opts.SeenFor, 1_000_000), followers: map[uuid.UUID]map[uuid.UUID]bool{},
		waiting: map[uuid.UUID]*Event{}}
}

func (o *memoryOrdering) Process(ctx context.Context, e *Event, h Handler) error {
	return o.process(ctx, e, h, 0)
}

func (o *memoryOrdering) process(ctx context.Context, e *Event, h Handler, depth int) error {
	if depth > o.opts.MaxDepth {
		return fmt.Errorf("event %s: %w", e.ID, ErrMaxDepth)
	}
	o.mu.Lock()
	if o.processing[e.ID] {
		o.mu.Unlock()
		return fmt.Errorf("event %s: %w", e.ID, ErrBeingProcessed)
	}
	o.processing[e.ID] = true
	o.mu.Unlock()
	err := o.handle(ctx, e, h)
	o.mu.Lock()
	delete(o.processing, e.ID)
	o.mu.Unlock()
	if err != nil {
		return err
	}
	for _, f := range o.followersOf(e.ID) {
		err := o.process(ctx, f, h, depth+1)
		switch {
		case errors.Is(err, ErrMaxDepth):
			return nil // the rest stay parked until they are lost, as in Prefect
		case errors.Is(err, ErrBeingProcessed):
		case err != nil:
			return err
		}
	}
	if e.Follows != nil && *e.Follows != e.ID {
		o.forgetFollower(e)
	}
	return nil
}

// handle waits for e's leader, runs h and records e as seen.
func (o *memoryOrdering) handle(ctx context.Context, e *Event, h Handler) error {
	if err := o.waitForLeader(ctx, e); err != nil {
		return err
	}
	if err := h(ctx, e); err != nil {
		return err
	}
	o.mu.Lock()
	o.seen.add(e.ID)
	o.mu.Unlock()
	return nil
}

func (o *memoryOrdering) waitForLeader(ctx context.Context, e *Event) error {
	if e.Follows == nil || *e.Follows == e.ID || o.now().Sub(e.Received.Time) >= o.opts.Lookback {
		return nil
	}
	leader := *e.Follows
	o.mu.Lock()
	inFlight := o.processing[leader]
	seen := o.seen.has(leader)
	o.mu.Unlock()
	if seen {
		return nil
	}
	if inFlight {
		deadline := time.NewTimer(o.opts.InFlightTimeout)
		defer deadline.Stop()
		tick := time.NewTicker(o.opts.Poll)
		defer tick.Stop()
	poll:
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline.C:
				break poll // treat the leader as lost
			case <-tick.C:
				o.mu.Lock()
				seen := o.seen.has(leader)
				o.mu.Unlock()
				if seen {
					return nil
				}
			}
		}
	}
	// Park e, unless its leader was handled meanwhile (checked under the
	// same lock the leader's handling records itself with).
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen.has(leader) {
		return nil
	}
	if o.followers[leader] == nil {
		o.followers[leader] = map[uuid.UUID]bool{}
	}
	o.followers[leader][e.ID] = true
	o.waiting[e.ID] = e
	return fmt.Errorf("event %s follows %s: %w", e.ID, leader, ErrArrivedEarly)
}

// followersOf returns the events parked for leader, oldest first.
func (o *memoryOrdering) followersOf(leader uuid.UUID) []*Event {
	o.mu.Lock()
	var out []*Event
	for id := range o.followers[leader] {
		if e, ok := o.waiting[id]; ok {
			out = append(out, e)
		}
	}
	o.mu.Unlock()
	sortByOccurred(out)
	return out
}

func (o *memoryOrdering) forgetFollower(e *Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.waiting, e.ID)
	if fs := o.followers[*e.Follows]; fs != nil {
		delete(fs, e.ID)
		if len(fs) == 0 {
			delete(o.followers, *e.Follows)
		}
	}
}

func (o *memoryOrdering) LostFollowers(context.Context) ([]*Event, error) {
	cutoff := o.now().Add(-o.opts.Lookback)
	o.mu.Lock()
	var lost []*Event
	for id, e := range o.waiting {
		if e.Received.After(cutoff) {
			continue
		}
		lost = append(lost, e)
		delete(o.waiting, id)
		if fs := o.followers[*e.Follows]; fs != nil {
			delete(fs, id)
			if len(fs) == 0 {
				delete(o.followers, *e.Follows)
			}
		}
	}
	o.mu.Unlock()
	sortByOccurred(lost)
	return lost, nil
}

func sortByOccurred(evs []*Event) {
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Occurred.Before(evs[j].Occurred.Time) })
}
