// Package leases is the platform's lease storage: leases that hold resources
// (e.g. concurrency slots) for a time-to-live, in memory or in Redis. Leases
// are never stored in the database, as in Prefect.
package leases

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Lease holds ResourceIDs until Expiration unless renewed or revoked.
type Lease struct {
	ID          uuid.UUID       `json:"id"`
	ResourceIDs []uuid.UUID     `json:"resource_ids"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Expiration  time.Time       `json:"expiration"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Storage keeps leases. All methods are safe for concurrent use.
type Storage interface {
	// Create stores a new lease expiring after ttl.
	Create(ctx context.Context, resourceIDs []uuid.UUID, ttl time.Duration, metadata json.RawMessage) (Lease, error)
	// Read returns the lease, or nil when it does not exist (revoked or never made).
	Read(ctx context.Context, id uuid.UUID) (*Lease, error)
	// Renew pushes the expiration to now+ttl; false when the lease does not exist.
	Renew(ctx context.Context, id uuid.UUID, ttl time.Duration) (bool, error)
	// Revoke deletes the lease; revoking a missing lease is not an error.
	Revoke(ctx context.Context, id uuid.UUID) error
	// ActiveIDs pages through leases that have not expired, oldest first.
	ActiveIDs(ctx context.Context, limit, offset int) ([]uuid.UUID, error)
	// ExpiredIDs returns up to limit leases whose expiration has passed.
	ExpiredIDs(ctx context.Context, limit int) ([]uuid.UUID, error)
	// ByResource returns the unexpired leases that hold resourceID.
	ByResource(ctx context.Context, resourceID uuid.UUID) ([]Lease, error)
}
