package events

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/platform/broker"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
)

// recordingBacklog is the in-process counter that also records the size of
// every committed batch.
type recordingBacklog struct {
	*counter
	mu      sync.Mutex
	batches []int
}

func (b *recordingBacklog) done(n int) {
	b.mu.Lock()
	b.batches = append(b.batches, n)
	b.mu.Unlock()
	b.counter.done(n)
}

func (b *recordingBacklog) sizes() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.batches...)
}

// persisterRig is a persister on a fresh database and a memory broker.
type persisterRig struct {
	repo    *repo
	broker  *broker.Memory
	backlog *recordingBacklog
	pub     *publisher
	stop    func() // cancels Run and waits for it
}

func newPersisterRig(t *testing.T, d config.Dialect, batch int) *persisterRig {
	t.Helper()
	rig := &persisterRig{repo: newTestRepo(t, d), broker: broker.NewMemory(broker.WithRetryDelay(50 * time.Millisecond)),
		backlog: &recordingBacklog{counter: newCounter(50_000)}}
	t.Cleanup(func() { _ = rig.broker.Close() })
	gate := broker.NewReadyGate()
	gate.Expect()
	log := zaptest.NewLogger(t)
	rig.pub = &publisher{broker: rig.broker, start: gate, seen: newSeenCache(seenTTL, seenSize), backlog: rig.backlog,
		lim: newLimits(platformDefaults(t)), log: log}
	p := &persister{broker: rig.broker, repo: rig.repo, backlog: rig.backlog, start: gate, log: log,
		cfg: persisterConfig{batchSize: batch, workers: 1, drainTimeout: 10 * time.Second}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	rig.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("persister: %v", err)
			}
		})
	}
	t.Cleanup(rig.stop)
	_ = gate.Wait(context.Background(), 10*time.Second) // joined: direct publishes reach it
	return rig
}

func platformDefaults(t *testing.T) config.Events {
	cfg, err := config.Load(func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Events
}

func (rig *persisterRig) rows(t *testing.T, table string) int {
	t.Helper()
	n, err := rig.repo.db.NewSelect().TableExpr(table).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func (rig *persisterRig) waitRows(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for rig.rows(t, "events") != want {
		if time.Now().After(deadline) {
			t.Fatalf("events rows = %d, want %d", rig.rows(t, "events"), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func manyEvents(n int, related ...Labels) []*Event {
	out := make([]*Event, n)
	now := time.Now()
	for i := range out {
		out[i] = ev("test.many", "r.1", now, related...)
	}
	return out
}

// TestPersisterBatches: a backlog is written in transactions of at most the
// batch size, and everything arrives.
func TestPersisterBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		rig := newPersisterRig(t, d, 100)
		if err := rig.pub.publish(context.Background(), manyEvents(1050)); err != nil {
			t.Fatal(err)
		}
		rig.waitRows(t, 1050)
		rig.stop() // the last batch's acknowledgement follows its commit
		total := 0
		for _, n := range rig.backlog.sizes() {
			if n > 100 {
				t.Fatalf("a batch of %d events, want at most 100: %v", n, rig.backlog.sizes())
			}
			total += n
		}
		if total != 1050 || len(rig.backlog.sizes()) < 11 {
			t.Fatalf("batches %v, want 1050 events in at least 11", rig.backlog.sizes())
		}
	})
}

// TestPersisterIsIdempotent: an event delivered twice (a client's resend
// after the dedup window, or a broker redelivery) is stored once, with its
// resources once.
func TestPersisterIsIdempotent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		rig := newPersisterRig(t, d, 10)
		evs := manyEvents(25, L(LabelID, "prefect.flow.1", LabelRole, "flow"))
		for range 2 {
			msgs := make([]broker.Message, 0, 2*len(evs))
			for _, e := range evs {
				data, _ := json.Marshal(e)
				msgs = append(msgs, broker.Message{Data: data}, broker.Message{Data: data})
			}
			if err := rig.broker.Publish(context.Background(), Topic, msgs...); err != nil {
				t.Fatal(err)
			}
		}
		rig.waitRows(t, 25)
		time.Sleep(100 * time.Millisecond)
		if n, r := rig.rows(t, "events"), rig.rows(t, "event_resources"); n != 25 || r != 50 {
			t.Fatalf("events %d, resources %d; want 25 and 50", n, r)
		}
	})
}

// TestPersisterFlushesOnStop: stopping the service stores what was published.
func TestPersisterFlushesOnStop(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		rig := newPersisterRig(t, d, 50)
		for range 20 {
			if err := rig.pub.publish(context.Background(), manyEvents(100)); err != nil {
				t.Fatal(err)
			}
		}
		rig.stop()
		if n := rig.rows(t, "events"); n != 2000 {
			t.Fatalf("after stop %d events are stored, want 2000", n)
		}
	})
}

// TestPersisterRetriesFailedWrites: a batch that cannot be written is not
// acknowledged, so it is delivered again and stored once the database is back.
func TestPersisterRetriesFailedWrites(t *testing.T) {
	rig := newPersisterRig(t, config.SQLite, 100)
	ctx := context.Background()
	if _, err := rig.repo.db.ExecContext(ctx, "ALTER TABLE events RENAME TO events_away"); err != nil {
		t.Fatal(err)
	}
	if err := rig.pub.publish(ctx, manyEvents(30)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a few failed attempts
	if _, err := rig.repo.db.ExecContext(ctx, "ALTER TABLE events_away RENAME TO events"); err != nil {
		t.Fatal(err)
	}
	rig.waitRows(t, 30)
}

// TestPersisterDropsRefusedEvents: an event the database refuses does not
// hold back the rest of its batch (PostgreSQL refuses \u0000 in JSONB).
func TestPersisterDropsRefusedEvents(t *testing.T) {
	if !slicesContains(dbtest.Dialects(), config.Postgres) {
		t.Skip("only PostgreSQL refuses these events")
	}
	rig := newPersisterRig(t, config.Postgres, 100)
	evs := manyEvents(10)
	evs[3].Payload = json.RawMessage(`{"bad":"nul \u0000 here"}`)
	if err := rig.pub.publish(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	rig.waitRows(t, 9)
}

func slicesContains(ds []config.Dialect, d config.Dialect) bool {
	for _, x := range ds {
		if x == d {
			return true
		}
	}
	return false
}

func TestTrim(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		r := newTestRepo(t, d)
		now := time.Now()
		flow := L(LabelID, "prefect.flow.1", LabelRole, "flow")
		evs := []*Event{
			ev("test.old", "r.1", now.Add(-10*24*time.Hour), flow),
			ev("test.recent", "r.1", now.Add(-time.Hour), flow),
			ev("prefect.flow-run.heartbeat", "r.1", now.Add(-3*time.Hour), flow),
			ev("prefect.flow-run.heartbeat", "r.1", now.Add(-time.Minute), flow),
		}
		if _, err := r.write(context.Background(), evs); err != nil {
			t.Fatal(err)
		}
		c := trimConfig{enabled: true, retention: 7 * 24 * time.Hour, batch: 1,
			overrides: map[string]time.Duration{"prefect.flow-run.heartbeat": 2 * time.Hour}}
		n, err := r.trim(context.Background(), c, now)
		if err != nil || n != 2 {
			t.Fatalf("trim = %d, %v; want 2 events", n, err)
		}
		f := newFilter(now)
		f.Occurred.Since = tsFrom(now.AddDate(-1, 0, 0))
		left, err := r.query(context.Background(), &f, 50, 0)
		if err != nil || fmtList(ids(left)) != "[prefect.flow-run.heartbeat@r.1 test.recent@r.1]" {
			t.Fatalf("left %v, %v", ids(left), err)
		}
		resources, err := r.db.NewSelect().TableExpr("event_resources").Count(context.Background())
		if err != nil || resources != 4 {
			t.Fatalf("resources left %d, %v; want 4", resources, err)
		}
	})
}

func TestTrimConfig(t *testing.T) {
	tests := []struct {
		name        string
		give        map[string]string
		wantEnabled bool
		wantHB      time.Duration
	}{
		{"defaults", nil, true, 7 * 24 * time.Hour},
		{"flow runs only", map[string]string{envVacuumEnabled: "flow_runs"}, false, 7 * 24 * time.Hour},
		{"list with events", map[string]string{envVacuumEnabled: "flow_runs,events"}, true, 7 * 24 * time.Hour},
		{"legacy false still trims events", map[string]string{envVacuumEnabled: "false"}, true, 7 * 24 * time.Hour},
		{"overrides in seconds", map[string]string{envVacuumOverrides: `{"prefect.flow-run.heartbeat": 3600}`}, true, time.Hour},
		{"overrides in ISO", map[string]string{envVacuumOverrides: `{"prefect.flow-run.heartbeat": "PT2H"}`}, true, 2 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Load(func(k string) (string, bool) { v, ok := tt.give[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			got, err := loadTrimConfig(cfg.Services, cfg.Events)
			if err != nil || got.enabled != tt.wantEnabled || got.overrides["prefect.flow-run.heartbeat"] != tt.wantHB {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}
