package events

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/platformtest"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// twoProcesses returns two Redis orderings of one scope on separate
// connections, as two server processes would have them.
func twoProcesses(t *testing.T, opts OrderingOptions) (a, b CausalOrdering) {
	t.Helper()
	ca, cb := redistest.Client(t), redistest.Client(t)
	scope := redistest.Prefix(t, ca) + "triggers"
	return NewRedisOrdering(ca, scope, opts), NewRedisOrdering(cb, scope, opts)
}

func TestRedisOrderingSharedByProcesses(t *testing.T) {
	t.Run("follower parked by one, released by the other", func(t *testing.T) {
		a, b := twoProcesses(t, OrderingOptions{})
		evs := chain("a", "b", "c")
		rec := &recorder{}
		for _, step := range []struct {
			o    CausalOrdering
			e    *Event
			want error
		}{{a, evs[2], ErrArrivedEarly}, {b, evs[1], ErrArrivedEarly}, {b, evs[0], nil}} {
			if err := step.o.Process(context.Background(), step.e, rec.handle); !errors.Is(err, step.want) {
				t.Fatalf("process %s = %v, want %v", step.e.Event, err, step.want)
			}
		}
		if !slices.Equal(rec.got(), []string{"a", "b", "c"}) {
			t.Fatalf("order %v", rec.got())
		}
		if err := a.Process(context.Background(), evs[2], rec.handle); err != nil || len(rec.got()) != 4 {
			t.Fatalf("a redelivered follower whose leader was seen runs at once: %v, %v", err, rec.got())
		}
	})
	t.Run("in-flight leader in the other process", func(t *testing.T) {
		a, b := twoProcesses(t, OrderingOptions{Poll: 5 * time.Millisecond})
		testInFlightLeader(t, a, b)
	})
	t.Run("in-flight timeout across processes", func(t *testing.T) {
		a, b := twoProcesses(t, OrderingOptions{Poll: 5 * time.Millisecond, InFlightTimeout: 50 * time.Millisecond})
		testInFlightTimeout(t, a, b)
	})
	t.Run("lost followers claimed once", func(t *testing.T) {
		a, b := twoProcesses(t, OrderingOptions{Lookback: time.Minute})
		later := func() time.Time { return time.Now().Add(2 * time.Minute) }
		var want []string
		for i := range 20 {
			f := chain("leader", "f"+string(rune('a'+i)))[1]
			if err := a.Process(context.Background(), f, (&recorder{}).handle); !errors.Is(err, ErrArrivedEarly) {
				t.Fatalf("park %s = %v", f.Event, err)
			}
			want = append(want, f.ID.String())
		}
		setClock(t, a, later)
		setClock(t, b, later)
		var mu sync.Mutex
		var got []string
		var wg sync.WaitGroup
		for _, o := range []CausalOrdering{a, b, a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				lost, err := o.LostFollowers(context.Background())
				if err != nil {
					t.Errorf("lost followers: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				for _, e := range lost {
					got = append(got, e.ID.String())
				}
			}()
		}
		wg.Wait()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("lost followers across processes: got %d %v, want each of %d once", len(got), got, len(want))
		}
	})
}

// TestOrderingsFromConfig: the module provides Orderings as configured, and
// a Redis setting never falls back to memory.
func TestOrderingsFromConfig(t *testing.T) {
	if _, err := newOrderings(config.Events{CausalOrdering: config.KindRedis}, nil); err == nil ||
		!strings.Contains(err.Error(), "PREFECT_SERVER_EVENTS_CAUSAL_ORDERING") {
		t.Fatalf("redis without a client = %v, want an error naming the setting", err)
	}
	if _, err := newOrderings(config.Events{CausalOrdering: "db"}, nil); err == nil {
		t.Fatal("unknown kind accepted")
	}

	var mem Orderings
	platformtest.New(t, config.SQLite, Module, fx.Populate(&mem))
	if _, ok := mem.For("triggers").(*memoryOrdering); !ok || mem.For("triggers") != mem.For("triggers") {
		t.Fatalf("default ordering: %T, want one memory ordering per scope", mem.For("triggers"))
	}

	url := os.Getenv(redistest.EnvURL)
	if url == "" {
		t.Skip(redistest.EnvURL + " is not set")
	}
	cfg := platformtest.DefaultConfig(t, config.SQLite)
	cfg.Events.CausalOrdering = config.KindRedis
	cfg.Redis.URL = url
	var shared Orderings
	platformtest.NewWithConfig(t, cfg, Module, fx.Populate(&shared))
	if _, ok := shared.For("triggers").(*redisOrdering); !ok {
		t.Fatalf("redis setting gave %T", shared.For("triggers"))
	}
}
