package concurrency

import (
	"context"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/services"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The repossessor, every PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS:
//
//  1. As Prefect's: each expired lease gives back its slots and is revoked.
//  2. Ours: a hold (the slots a lease took, see the migration) whose lease
//     is in neither the active nor the expired leases of lease storage, and
//     has not been for holdGrace, gives back its slots. That repairs a crash
//     between taking the slots and storing the lease, and memory leases lost
//     with the process that held them (Prefect leaves those slots taken for
//     good). Slots taken without a lease (/increment) are never touched.
//
// Step 2 runs only where this process sees every lease: with Redis lease
// storage, or with memory storage in the process that serves the API (a
// services-only process with memory leases sees none of the API's leases,
// so it must not judge them missing). Memory lease storage therefore
// supports one server process, as in Prefect.
type repossessor struct {
	slots   *slots
	log     *zap.Logger
	orphans bool
}

const (
	expiredBatch = 100 // Prefect's read_expired_lease_ids page
	maxBatches   = 50  // per tick, so that a stuck lease cannot spin a tick
	holdGrace    = time.Minute
)

func newRepossessor(s *slots, log *zap.Logger) services.Service {
	r := &repossessor{slots: s, log: log.Named("repossessor"), orphans: s.settings.SharedLeases || s.settings.RunAPI}
	return services.Every("repossessor", s.settings.Loop, r.log, r.tick)
}

func (r *repossessor) tick(ctx context.Context) error {
	if err := r.expired(ctx); err != nil {
		return err
	}
	if !r.orphans {
		return nil
	}
	return r.orphaned(ctx)
}

func (r *repossessor) expired(ctx context.Context) error {
	for range maxBatches {
		ids, err := r.slots.leases.ExpiredIDs(ctx, expiredBatch)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := r.revokeExpired(ctx, id); err != nil {
				return err
			}
		}
		if len(ids) < expiredBatch {
			return nil
		}
	}
	return nil
}

// revokeExpired is Prefect's revoke_expired_lease.
func (r *repossessor) revokeExpired(ctx context.Context, id uuid.UUID) error {
	l, err := r.slots.leases.Read(ctx, id)
	if err != nil {
		return err
	}
	if l == nil {
		return r.slots.leases.Revoke(ctx, id) // clears a stale expiration entry
	}
	if l.Expiration.After(time.Now()) {
		return nil // renewed since the scan: its slots are still in use
	}
	r.log.Info("revoking expired lease", zap.Stringer("lease_id", id), zap.Int("limits", len(l.ResourceIDs)))
	return r.slots.releaseAndRevoke(ctx, id, true)
}

// orphaned gives back the slots of holds whose lease storage lost the lease.
func (r *repossessor) orphaned(ctx context.Context) error {
	var known map[uuid.UUID]bool
	return r.slots.repo.eachHold(ctx, types.From(time.Now().Add(-holdGrace)), func(h hold) error {
		if known == nil {
			var err error
			if known, err = r.knownLeases(ctx); err != nil {
				return err
			}
		}
		if known[h.LeaseID] {
			return nil
		}
		l, err := r.slots.leases.Read(ctx, h.LeaseID)
		if err != nil || l != nil {
			return err
		}
		r.log.Warn("giving back the slots of a lease missing from lease storage",
			zap.Stringer("lease_id", h.LeaseID), zap.Int("slots", h.Slots), zap.Int("limits", len(h.LimitIDs)))
		_, err = r.slots.release(ctx, h.LeaseID, false)
		return err
	})
}

// knownLeases is every lease in storage, expired or not.
func (r *repossessor) knownLeases(ctx context.Context) (map[uuid.UUID]bool, error) {
	active, err := r.slots.leases.ActiveIDs(ctx, 0, 0)
	if err != nil {
		return nil, err
	}
	expired, err := r.slots.leases.ExpiredIDs(ctx, 0)
	if err != nil {
		return nil, err
	}
	known := make(map[uuid.UUID]bool, len(active)+len(expired))
	for _, id := range append(active, expired...) {
		known[id] = true
	}
	return known, nil
}
