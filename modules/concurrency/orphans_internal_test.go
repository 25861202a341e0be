package concurrency

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap/zaptest"

	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db/dbtest"
	"github.com/prefect-server/prefect-server/platform/leases"
	"github.com/prefect-server/prefect-server/platform/migrate"
	"github.com/prefect-server/prefect-server/platform/types"
)

// failingStore loses every lease it is asked to store.
type failingStore struct{ leaseStore }

func (failingStore) CreateWithID(context.Context, uuid.UUID, []uuid.UUID, time.Duration, json.RawMessage) (leases.Lease, error) {
	return leases.Lease{}, errors.New("lease storage is down")
}

// newTestSlots builds the module's parts on a fresh database (a process that
// serves the API, with memory leases).
func newTestSlots(t *testing.T, d config.Dialect) *slots {
	t.Helper()
	database := dbtest.Open(t, d, migrate.Set{Module: "concurrency", FS: migrationsFS, Dir: "migrations"})
	s := settings{TagWait: 10 * time.Second, MaxWait: 30 * time.Second, Loop: time.Second, RunAPI: true}
	return &slots{repo: &repo{db: database, sql: newSQL(database, s)}, leases: leases.NewMemory(), settings: s, log: zaptest.NewLogger(t)}
}

func activeSlots(t *testing.T, s *slots, name string) int {
	t.Helper()
	l, err := s.repo.read(context.Background(), byName(name))
	if err != nil {
		t.Fatal(err)
	}
	return l.ActiveSlots
}

func TestHoldsWithoutLeasesAreRepossessed(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d config.Dialect) {
		ctx := context.Background()
		s := newTestSlots(t, d)
		now := types.Now()
		if err := s.repo.create(ctx, &Limit{ID: uuid.New(), Created: now, Updated: now, Active: true, Name: "db", Limit: 5, AvgSlotOccupancySeconds: 2}); err != nil {
			t.Fatal(err)
		}
		spec := &leaseSpec{ttl: time.Hour, meta: leaseMetadata{Slots: 2}}
		take := func() taken {
			t.Helper()
			got, err := s.take(ctx, []string{"db"}, 2, nil, spec)
			if err != nil || !got.ok {
				t.Fatalf("take = %+v, %v", got, err)
			}
			return got
		}
		lost, kept := take(), take()

		// The process restarts with memory leases: they are gone, the holds stay.
		restarted := leases.NewMemory()
		if _, err := restarted.CreateWithID(ctx, kept.leaseID, idsOf(kept.limits), time.Hour, spec.meta.raw()); err != nil {
			t.Fatal(err)
		}
		s.leases = restarted
		rp := &repossessor{slots: s, log: s.log, orphans: true}
		if err := rp.tick(ctx); err != nil {
			t.Fatal(err)
		}
		if n := activeSlots(t, s, "db"); n != 4 {
			t.Fatalf("a hold younger than the grace period was repossessed: %d slots, want 4", n)
		}
		past := types.From(time.Now().Add(-2 * holdGrace))
		if _, err := s.repo.db.NewUpdate().Model((*hold)(nil)).Set("created = ?", past).Where("1 = 1").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rp.tick(ctx); err != nil {
			t.Fatal(err)
		}
		if n := activeSlots(t, s, "db"); n != 2 {
			t.Fatalf("after the tick: %d slots, want the 2 of the lease still stored", n)
		}
		if ok, err := s.release(ctx, lost.leaseID, false); err != nil || ok {
			t.Fatalf("the lost lease released again: %v, %v", ok, err)
		}
		if err := s.releaseAndRevoke(ctx, kept.leaseID, true); err != nil {
			t.Fatal(err)
		}
		if n := activeSlots(t, s, "db"); n != 0 {
			t.Fatalf("after releasing the kept lease: %d slots", n)
		}

		// Lease storage fails after the slots were taken: they come back at once.
		s.leases = failingStore{s.leases}
		if _, err := s.take(ctx, []string{"db"}, 3, nil, spec); err == nil {
			t.Fatal("take succeeded without storing its lease")
		}
		if n := activeSlots(t, s, "db"); n != 0 {
			t.Fatalf("a failed lease kept %d slots", n)
		}
	})
}

// TestServicesOnlyWithMemoryLeasesKeepsHolds: a services-only process with
// memory leases cannot see the API's leases and must not repossess them.
func TestServicesOnlyWithMemoryLeasesKeepsHolds(t *testing.T) {
	ctx := context.Background()
	s := newTestSlots(t, config.SQLite)
	s.settings.RunAPI = false
	now := types.Now()
	if err := s.repo.create(ctx, &Limit{ID: uuid.New(), Created: now, Updated: now, Active: true, Name: "db", Limit: 1, AvgSlotOccupancySeconds: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.take(ctx, []string{"db"}, 1, nil, &leaseSpec{ttl: time.Hour, meta: leaseMetadata{Slots: 1}}); err != nil {
		t.Fatal(err)
	}
	s.leases = leases.NewMemory()
	if _, err := s.repo.db.NewUpdate().Model((*hold)(nil)).Set("created = ?", types.From(time.Now().Add(-time.Hour))).Where("1 = 1").Exec(ctx); err != nil {
		t.Fatal(err)
	}
	svc := newRepossessor(s, s.log)
	run, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := svc.Run(run); err != nil || svc.Name() != "repossessor" {
		t.Fatalf("run %s: %v", svc.Name(), err)
	}
	if n := activeSlots(t, s, "db"); n != 1 {
		t.Fatalf("slots = %d, want the hold kept", n)
	}
}
