package leases_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/leases"
	"github.com/prefect-server/prefect-server/platform/redisx/redistest"
)

// storages builds each implementation, fresh for every test.
var storages = []struct {
	name string
	new  func(t *testing.T) leases.Storage
}{
	{"memory", func(*testing.T) leases.Storage { return leases.NewMemory() }},
	{"redis", func(t *testing.T) leases.Storage {
		c := redistest.Client(t)
		return leases.NewRedis(c, leases.RedisOptions{KeyPrefix: redistest.Prefix(t, c)})
	}},
}

// TestStorage runs every case against every implementation.
func TestStorage(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s leases.Storage)
	}{
		{"create and read", testCreateRead},
		{"read missing", testReadMissing},
		{"renew", testRenew},
		{"renew missing", testRenewMissing},
		{"renew expired", testRenewExpired},
		{"revoke", testRevoke},
		{"expired stays readable until revoked", testExpired},
		{"expires with time", testExpiresWithTime},
		{"active ids pages by expiration", testActivePaging},
		{"expired ids limit", testExpiredLimit},
		{"by resource", testByResource},
	}
	for _, st := range storages {
		t.Run(st.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					t.Parallel()
					tt.run(t, st.new(t))
				})
			}
		})
	}
}

var ctx = context.Background()

func create(t *testing.T, s leases.Storage, ttl time.Duration, resources ...uuid.UUID) leases.Lease {
	t.Helper()
	l, err := s.Create(ctx, resources, ttl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func read(t *testing.T, s leases.Storage, id uuid.UUID) *leases.Lease {
	t.Helper()
	l, err := s.Read(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func active(t *testing.T, s leases.Storage, limit, offset int) []uuid.UUID {
	t.Helper()
	ids, err := s.ActiveIDs(ctx, limit, offset)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func expired(t *testing.T, s leases.Storage, limit int) []uuid.UUID {
	t.Helper()
	ids, err := s.ExpiredIDs(ctx, limit)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func byResource(t *testing.T, s leases.Storage, id uuid.UUID) []uuid.UUID {
	t.Helper()
	ls, err := s.ByResource(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	return ids
}

func revoke(t *testing.T, s leases.Storage, id uuid.UUID) {
	t.Helper()
	if err := s.Revoke(ctx, id); err != nil {
		t.Fatal(err)
	}
}

func equalIDs(t *testing.T, what string, got, want []uuid.UUID) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func testCreateRead(t *testing.T, s leases.Storage) {
	r1, r2 := uuid.New(), uuid.New()
	meta := json.RawMessage(`{"slots":2,"holder":{"type":"task_run","id":"x"}}`)
	before := time.Now()
	l, err := s.Create(ctx, []uuid.UUID{r1, r2}, time.Minute, meta)
	if err != nil {
		t.Fatal(err)
	}
	if l.ID == uuid.Nil || l.CreatedAt.Before(before.Add(-time.Millisecond)) ||
		l.Expiration.Sub(l.CreatedAt) < time.Minute-time.Microsecond {
		t.Errorf("created lease = %+v", l)
	}
	got := read(t, s, l.ID)
	if got == nil {
		t.Fatal("lease not found")
	}
	if got.ID != l.ID || !slices.Equal(got.ResourceIDs, l.ResourceIDs) || string(got.Metadata) != string(meta) ||
		!got.Expiration.Equal(l.Expiration) || !got.CreatedAt.Equal(l.CreatedAt) {
		t.Errorf("read %+v, want %+v", got, l)
	}
	equalIDs(t, "active", active(t, s, 0, 0), []uuid.UUID{l.ID})
}

func testReadMissing(t *testing.T, s leases.Storage) {
	if got := read(t, s, uuid.New()); got != nil {
		t.Errorf("read missing = %+v, want nil", got)
	}
}

func testRenew(t *testing.T, s leases.Storage) {
	l := create(t, s, time.Minute)
	ok, err := s.Renew(ctx, l.ID, time.Hour)
	if err != nil || !ok {
		t.Fatalf("renew = %v, %v", ok, err)
	}
	got := read(t, s, l.ID)
	if d := got.Expiration.Sub(l.Expiration); d < 59*time.Minute {
		t.Errorf("expiration moved by %v, want about an hour", d)
	}
}

func testRenewMissing(t *testing.T, s leases.Storage) {
	ok, err := s.Renew(ctx, uuid.New(), time.Hour)
	if err != nil || ok {
		t.Errorf("renew missing = %v, %v; want false, nil", ok, err)
	}
}

func testRenewExpired(t *testing.T, s leases.Storage) {
	r := uuid.New()
	l := create(t, s, -time.Second, r)
	ok, err := s.Renew(ctx, l.ID, time.Hour)
	if err != nil || !ok {
		t.Fatalf("renew = %v, %v", ok, err)
	}
	equalIDs(t, "expired", expired(t, s, 0), nil)
	equalIDs(t, "active", active(t, s, 0, 0), []uuid.UUID{l.ID})
	equalIDs(t, "by resource", byResource(t, s, r), []uuid.UUID{l.ID})
}

func testRevoke(t *testing.T, s leases.Storage) {
	r := uuid.New()
	l := create(t, s, time.Minute, r)
	keep := create(t, s, time.Minute, r)
	revoke(t, s, l.ID)
	revoke(t, s, l.ID) // again: not an error
	revoke(t, s, uuid.New())
	if got := read(t, s, l.ID); got != nil {
		t.Errorf("read revoked = %+v", got)
	}
	equalIDs(t, "active", active(t, s, 0, 0), []uuid.UUID{keep.ID})
	equalIDs(t, "by resource", byResource(t, s, r), []uuid.UUID{keep.ID})
}

func testExpired(t *testing.T, s leases.Storage) {
	r := uuid.New()
	l := create(t, s, -time.Second, r)
	live := create(t, s, time.Minute, r)
	if got := read(t, s, l.ID); got == nil || !got.Expiration.Before(time.Now()) {
		t.Errorf("read expired = %+v, want the lease", got)
	}
	equalIDs(t, "expired", expired(t, s, 10), []uuid.UUID{l.ID})
	equalIDs(t, "active", active(t, s, 10, 0), []uuid.UUID{live.ID})
	equalIDs(t, "by resource", byResource(t, s, r), []uuid.UUID{live.ID})
	revoke(t, s, l.ID)
	equalIDs(t, "expired after revoke", expired(t, s, 10), nil)
}

func testExpiresWithTime(t *testing.T, s leases.Storage) {
	r := uuid.New()
	l := create(t, s, 100*time.Millisecond, r)
	equalIDs(t, "active", active(t, s, 0, 0), []uuid.UUID{l.ID})
	time.Sleep(150 * time.Millisecond)
	equalIDs(t, "active later", active(t, s, 0, 0), nil)
	equalIDs(t, "expired later", expired(t, s, 0), []uuid.UUID{l.ID})
	equalIDs(t, "by resource later", byResource(t, s, r), nil)
}

func testActivePaging(t *testing.T, s leases.Storage) {
	// Created out of order: listing follows expiration.
	l3 := create(t, s, 3*time.Hour)
	l1 := create(t, s, time.Hour)
	l2 := create(t, s, 2*time.Hour)
	create(t, s, -time.Hour)
	tests := []struct {
		give [2]int // limit, offset
		want []uuid.UUID
	}{
		{[2]int{0, 0}, []uuid.UUID{l1.ID, l2.ID, l3.ID}},
		{[2]int{2, 0}, []uuid.UUID{l1.ID, l2.ID}},
		{[2]int{2, 2}, []uuid.UUID{l3.ID}},
		{[2]int{1, 1}, []uuid.UUID{l2.ID}},
		{[2]int{5, 3}, nil},
		{[2]int{5, 10}, nil},
	}
	for _, tt := range tests {
		equalIDs(t, "active", active(t, s, tt.give[0], tt.give[1]), tt.want)
	}
}

func testExpiredLimit(t *testing.T, s leases.Storage) {
	b := create(t, s, -2*time.Hour)
	c := create(t, s, -time.Hour)
	a := create(t, s, -3*time.Hour)
	create(t, s, time.Hour)
	equalIDs(t, "expired", expired(t, s, 2), []uuid.UUID{a.ID, b.ID})
	equalIDs(t, "all expired", expired(t, s, 0), []uuid.UUID{a.ID, b.ID, c.ID})
}

func testByResource(t *testing.T, s leases.Storage) {
	ra, rb := uuid.New(), uuid.New()
	l1 := create(t, s, time.Minute, ra)
	time.Sleep(time.Millisecond) // distinct creation times
	l2 := create(t, s, time.Minute, ra, rb)
	equalIDs(t, "a", byResource(t, s, ra), []uuid.UUID{l1.ID, l2.ID})
	equalIDs(t, "b", byResource(t, s, rb), []uuid.UUID{l2.ID})
	equalIDs(t, "none", byResource(t, s, uuid.New()), nil)
	got, err := s.ByResource(ctx, rb)
	if err != nil || len(got) != 1 || !slices.Equal(got[0].ResourceIDs, []uuid.UUID{ra, rb}) {
		t.Errorf("by resource b = %+v, %v", got, err)
	}
}
