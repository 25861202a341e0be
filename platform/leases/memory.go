package leases

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Memory keeps leases in process: a map by id, an index ordered by
// expiration and a set of leases per resource.
type Memory struct {
	mu         sync.Mutex
	leases     map[uuid.UUID]*Lease
	byExpiry   []expiry // sorted by (expiration, id)
	byResource map[uuid.UUID]map[uuid.UUID]struct{}
}

// NewMemory returns an empty in-memory lease storage.
func NewMemory() *Memory {
	return &Memory{
		leases:     make(map[uuid.UUID]*Lease),
		byResource: make(map[uuid.UUID]map[uuid.UUID]struct{}),
	}
}

var _ Storage = (*Memory)(nil)

// Create stores a new lease expiring after ttl (a ttl <= 0 makes it expired).
func (m *Memory) Create(ctx context.Context, resourceIDs []uuid.UUID, ttl time.Duration, metadata json.RawMessage) (Lease, error) {
	return m.CreateWithID(ctx, uuid.New(), resourceIDs, ttl, metadata)
}

// Read returns the lease, expired or not, or nil when it does not exist.
func (m *Memory) Read(_ context.Context, id uuid.UUID) (*Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[id]
	if !ok {
		return nil, nil
	}
	c := clone(*l)
	return &c, nil
}

// Renew moves the expiration to now+ttl.
func (m *Memory) Renew(_ context.Context, id uuid.UUID, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[id]
	if !ok {
		return false, nil
	}
	m.unindex(id, l.Expiration)
	l.Expiration = now().Add(ttl).Truncate(time.Microsecond)
	m.index(id, l.Expiration)
	return true, nil
}

// Revoke deletes the lease.
func (m *Memory) Revoke(_ context.Context, id uuid.UUID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[id]
	if !ok {
		return nil
	}
	delete(m.leases, id)
	m.unindex(id, l.Expiration)
	for _, r := range l.ResourceIDs {
		delete(m.byResource[r], id)
		if len(m.byResource[r]) == 0 {
			delete(m.byResource, r)
		}
	}
	return nil
}

// ActiveIDs pages through unexpired leases, soonest expiration first; limit
// <= 0 means no limit.
func (m *Memory) ActiveIDs(_ context.Context, limit, offset int) ([]uuid.UUID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	start := min(m.firstActive(now())+max(offset, 0), len(m.byExpiry))
	return ids(m.byExpiry[start:], limit), nil
}

// ExpiredIDs returns up to limit expired leases, longest expired first; limit
// <= 0 means no limit.
func (m *Memory) ExpiredIDs(_ context.Context, limit int) ([]uuid.UUID, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return ids(m.byExpiry[:m.firstActive(now())], limit), nil
}

// ByResource returns the unexpired leases holding resourceID, oldest first.
func (m *Memory) ByResource(_ context.Context, resourceID uuid.UUID) ([]Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := now()
	var out []Lease
	for id := range m.byResource[resourceID] {
		if l := m.leases[id]; l.Expiration.After(now) {
			out = append(out, clone(*l))
		}
	}
	sortByCreation(out)
	return out, nil
}

// expiry is one entry of the expiration index.
type expiry struct {
	at time.Time
	id uuid.UUID
}

func compareExpiry(a, b expiry) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	return bytes.Compare(a.id[:], b.id[:])
}

// firstActive is the index of the first lease expiring after now.
func (m *Memory) firstActive(now time.Time) int {
	i, _ := slices.BinarySearchFunc(m.byExpiry, now, func(e expiry, t time.Time) int {
		if e.at.After(t) {
			return 1
		}
		return -1
	})
	return i
}

func (m *Memory) index(id uuid.UUID, at time.Time) {
	e := expiry{at: at, id: id}
	i, _ := slices.BinarySearchFunc(m.byExpiry, e, compareExpiry)
	m.byExpiry = slices.Insert(m.byExpiry, i, e)
}

func (m *Memory) unindex(id uuid.UUID, at time.Time) {
	if i, ok := slices.BinarySearchFunc(m.byExpiry, expiry{at: at, id: id}, compareExpiry); ok {
		m.byExpiry = slices.Delete(m.byExpiry, i, i+1)
	}
}

// ids returns the ids of up to limit (<= 0: all) entries.
func ids(entries []expiry, limit int) []uuid.UUID {
	if limit > 0 && len(entries) > limit {
		entries = entries[:limit]
	}
	out := make([]uuid.UUID, len(entries))
	for i, e := range entries {
		out[i] = e.id
	}
	return out
}

// now is the current time at the precision both storages keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func clone(l Lease) Lease {
	l.ResourceIDs = slices.Clone(l.ResourceIDs)
	l.Metadata = bytes.Clone(l.Metadata)
	return l
}

// sortByCreation orders leases by creation time, then id.
func sortByCreation(ls []Lease) {
	slices.SortFunc(ls, func(a, b Lease) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
}
