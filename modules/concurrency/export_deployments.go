package concurrency

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// GlobalLimit is a limit as the API answers it (Prefect's
// GlobalConcurrencyLimitResponse), e.g. a deployment's
// global_concurrency_limit.
type GlobalLimit = limitResponse

// DeploymentSlots is what the deployments module uses of this one: the
// limit Prefect keeps for a deployment's concurrency_limit (named
// "deployment:<id>"), and one slot of it taken and given back under a lease
// in a flow run's state transaction, with the holds that make each lease give
// its slots back once (see slots.go).
type DeploymentSlots struct{ s *slots }

func newDeploymentSlots(s *slots) *DeploymentSlots { return &DeploymentSlots{s: s} }

// SetLimit is Prefect's _create_or_update_deployment_concurrency_limit, in
// tx: a nil limit deletes the deployment's limit; otherwise the limit named
// "deployment:<id>" is created or its size updated. It returns the limit's
// id, nil when there is none.
func (d *DeploymentSlots) SetLimit(ctx context.Context, tx bun.IDB, deploymentID uuid.UUID, limit *int) (*uuid.UUID, error) {
	name := "deployment:" + deploymentID.String()
	if limit == nil {
		if _, err := tx.NewDelete().Model((*Limit)(nil)).Where("name = ?", name).Exec(ctx); err != nil {
			return nil, fmt.Errorf("delete limit of deployment %s: %w", deploymentID, err)
		}
		return nil, nil
	}
	now := types.Now()
	l := &Limit{ID: uuid.New(), Created: now, Updated: now, Active: true, Name: name, Limit: *limit}
	_, err := tx.NewInsert().Model(l).On("CONFLICT (name) DO UPDATE").
		Set(`"limit" = EXCLUDED."limit"`).Set("updated = EXCLUDED.updated").Exec(ctx)
	if err != nil {
		return nil, fmt.Errorf("set limit of deployment %s: %w", deploymentID, db.Translate(err))
	}
	var id uuid.UUID
	if err := tx.NewSelect().Model((*Limit)(nil)).Column("id").Where("name = ?", name).Scan(ctx, &id); err != nil {
		return nil, fmt.Errorf("read limit of deployment %s: %w", deploymentID, db.Translate(err))
	}
	return &id, nil
}

// DeleteLimits deletes the limits of deleted deployments, in tx.
func (d *DeploymentSlots) DeleteLimits(ctx context.Context, tx bun.IDB, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.NewDelete().Model((*Limit)(nil)).Where("id IN (?)", bun.In(ids)).Exec(ctx); err != nil {
		return fmt.Errorf("delete deployment limits: %w", err)
	}
	return nil
}

// Limits reads limits by id as the API shows them, in one query.
func (d *DeploymentSlots) Limits(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]GlobalLimit, error) {
	out := make(map[uuid.UUID]GlobalLimit, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var ls []Limit
	if err := d.s.repo.decayed(d.s.repo.db.Read, &ls).Where("id IN (?)", bun.In(ids)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read deployment limits: %w", db.Translate(err))
	}
	for i := range ls {
		out[ls[i].ID] = ls[i].response()
	}
	return out, nil
}

// Size reads a limit's size in tx (locking it on PostgreSQL); false when it
// does not exist.
func (d *DeploymentSlots) Size(ctx context.Context, tx bun.IDB, limitID uuid.UUID) (int, bool, error) {
	if err := d.s.repo.sql.lock(ctx, tx, []uuid.UUID{limitID}); err != nil {
		return 0, false, err
	}
	var ls []Limit
	if err := tx.NewSelect().Model(&ls).Where("id = ?", limitID).Scan(ctx); err != nil {
		return 0, false, fmt.Errorf("read limit %s: %w", limitID, db.Translate(err))
	}
	if len(ls) == 0 {
		return 0, false, nil
	}
	return ls[0].Limit, true, nil
}

// Take takes one slot of the limit in tx for a flow run and records the hold
// under a new lease id; false (nothing taken) when the limit is full or
// inactive. The caller stores the lease with StoreLease once the state is
// written, or gives the slot back with Release.
func (d *DeploymentSlots) Take(ctx context.Context, tx bun.IDB, limitID uuid.UUID) (uuid.UUID, bool, error) {
	now := types.Now()
	ids := []uuid.UUID{limitID}
	fits, err := d.s.repo.sql.fits(ctx, tx, ids, 1, now)
	if err != nil || !fits {
		return uuid.Nil, false, err
	}
	ok, err := d.s.repo.sql.take(ctx, tx, ids, 1, now)
	if err != nil || !ok {
		return uuid.Nil, false, err
	}
	leaseID := uuid.New()
	if err := d.s.repo.insertHold(ctx, tx, &hold{LeaseID: leaseID, LimitIDs: ids, Slots: 1, Created: now}); err != nil {
		return uuid.Nil, false, err
	}
	return leaseID, true, nil
}

// StoreLease stores the lease of a slot taken by Take for a flow run.
func (d *DeploymentSlots) StoreLease(ctx context.Context, leaseID, limitID, flowRunID uuid.UUID, ttl time.Duration) error {
	meta := leaseMetadata{Slots: 1, Holder: &holder{Type: "flow_run", ID: flowRunID}}
	if _, err := d.s.leases.CreateWithID(ctx, leaseID, []uuid.UUID{limitID}, ttl, meta.raw()); err != nil {
		return fmt.Errorf("store deployment lease of flow run %s: %w", flowRunID, err)
	}
	return nil
}

// Renew extends a lease; false when it is gone.
func (d *DeploymentSlots) Renew(ctx context.Context, leaseID uuid.UUID, ttl time.Duration) (bool, error) {
	return d.s.leases.Renew(ctx, leaseID, ttl)
}

// Release gives back, in tx, the slot a lease holds and revokes the lease
// (Prefect's _release_concurrency_lease). A lease that holds nothing (given
// back already, or lost) gives back one slot of fallback instead when it is
// set, as Prefect's fallback does.
func (d *DeploymentSlots) Release(ctx context.Context, tx bun.IDB, leaseID uuid.UUID, fallback *uuid.UUID) error {
	released, err := d.s.releaseIn(ctx, tx, leaseID, true)
	if err != nil {
		return err
	}
	if err := d.s.leases.Revoke(ctx, leaseID); err != nil {
		return fmt.Errorf("revoke deployment lease %s: %w", leaseID, err)
	}
	if !released && fallback != nil {
		return d.GiveOne(ctx, tx, *fallback)
	}
	return nil
}

// GiveOne gives back one slot of a limit taken without a lease.
func (d *DeploymentSlots) GiveOne(ctx context.Context, tx bun.IDB, limitID uuid.UUID) error {
	return d.s.repo.sql.give(ctx, tx, []uuid.UUID{limitID}, 1, 0, false, types.Now())
}
