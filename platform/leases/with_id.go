package leases

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// IDCreator is implemented by storages that store a lease under an id the
// caller chose. A caller that must record a lease elsewhere (e.g. in the
// database, in the transaction that takes the slots) before the lease exists
// picks the id first, so that both records name the same lease.
type IDCreator interface {
	// CreateWithID stores a new lease with the given id, expiring after ttl.
	// The id must be new (e.g. uuid.New()); it is not checked.
	CreateWithID(ctx context.Context, id uuid.UUID, resourceIDs []uuid.UUID, ttl time.Duration, metadata json.RawMessage) (Lease, error)
}

var (
	_ IDCreator = (*Memory)(nil)
	_ IDCreator = (*Redis)(nil)
)

// CreateWithID stores a new lease under id (a ttl <= 0 makes it expired).
func (m *Memory) CreateWithID(_ context.Context, id uuid.UUID, resourceIDs []uuid.UUID, ttl time.Duration, metadata json.RawMessage) (Lease, error) {
	now := now()
	l := Lease{
		ID:          id,
		ResourceIDs: slices.Clone(resourceIDs),
		Metadata:    bytes.Clone(metadata),
		Expiration:  now.Add(ttl).Truncate(time.Microsecond),
		CreatedAt:   now,
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leases[l.ID] = &l
	m.index(l.ID, l.Expiration)
	for _, r := range l.ResourceIDs {
		set, ok := m.byResource[r]
		if !ok {
			set = make(map[uuid.UUID]struct{})
			m.byResource[r] = set
		}
		set[l.ID] = struct{}{}
	}
	return clone(l), nil
}

// CreateWithID stores a new lease under id (a ttl <= 0 makes it expired).
func (r *Redis) CreateWithID(ctx context.Context, id uuid.UUID, resourceIDs []uuid.UUID, ttl time.Duration, metadata json.RawMessage) (Lease, error) {
	now := now()
	l := clone(Lease{
		ID:          id,
		ResourceIDs: resourceIDs,
		Metadata:    metadata,
		Expiration:  now.Add(ttl).Truncate(time.Microsecond),
		CreatedAt:   now,
	})
	data, err := json.Marshal(l)
	if err != nil {
		return Lease{}, fmt.Errorf("create lease %s: encode: %w", id, err)
	}
	keys := []string{r.leaseKey(l.ID), r.expirationsKey()}
	res := make([]string, len(l.ResourceIDs))
	for i, rid := range l.ResourceIDs {
		keys = append(keys, r.resourceKey(rid))
		res[i] = rid.String()
	}
	args := []string{l.ID.String(), string(data), micros(l.Expiration), strings.Join(res, ",")}
	if err := createScript.Exec(ctx, r.client, keys, args).Error(); err != nil {
		return Lease{}, fmt.Errorf("create lease %s: %w", id, err)
	}
	return l, nil
}
