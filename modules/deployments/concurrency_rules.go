package deployments

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/modules/concurrency"
	"github.com/prefect-server/prefect-server/platform/config"
	"github.com/prefect-server/prefect-server/platform/db"
	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Deployment concurrency, as Prefect's core flow policy has it
// (core_policy.py), on the limit "deployment:<id>" that concurrency_limit
// keeps in the concurrency module:
//
//   - SecureFlowConcurrencySlots: entering PENDING takes a slot under a lease
//     whose id goes on the state (deployment_concurrency_lease_id); a full
//     limit rejects to Scheduled "AwaitingConcurrencySlot" (ENQUEUE, the
//     default) or to Cancelled (CANCEL_NEW); a limit of 0 aborts.
//   - ValidateDeploymentConcurrencyAtRunning: PENDING -> RUNNING carries the
//     lease on and renews it; a lease lost meanwhile takes a slot again or
//     the run is cancelled.
//   - PreserveDeploymentConcurrencyLeaseId: a proposed state without the
//     lease id keeps the current one.
//   - ReleaseFlowConcurrencySlots: leaving PENDING, RUNNING or CANCELLING for
//     anything else gives the slot back and revokes the lease.
//
// Slots are taken and given back in the transaction that writes the state;
// the lease is stored once the state is written (see concurrency's
// DeploymentSlots). 3.0.x workers, which took slots themselves, are not
// special-cased: this server serves 3.9.1 clients.

// concurrencySettings are the server settings these rules read.
type concurrencySettings struct {
	slotWait   time.Duration // PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS
	leaseGrace time.Duration // PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION
}

func newConcurrencySettings(s config.Services) (concurrencySettings, error) {
	wait, err := s.Duration("PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS", 30*time.Second)
	if err != nil {
		return concurrencySettings{}, err
	}
	grace, err := s.Duration("PREFECT_SERVER_CONCURRENCY_INITIAL_DEPLOYMENT_LEASE_DURATION", 300*time.Second)
	return concurrencySettings{slotWait: wait, leaseGrace: grace}, err
}

type concurrencyRules struct {
	limits   *concurrency.DeploymentSlots
	settings concurrencySettings
}

const (
	memoLease = "deployment_lease_id"
	memoLimit = "deployment_limit_id"
)

// limitOf reads the deployment's limit id and concurrency options in the
// transition's transaction; a nil id when it has none.
func (c *concurrencyRules) limitOf(ctx context.Context, t *o.Transition) (*Deployment, error) {
	var d Deployment
	err := t.Tx.NewSelect().Model(&d).Column("id", "concurrency_limit_id", "concurrency_options").
		Where("id = ?", *t.Run.DeploymentID).Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("read deployment of flow run %s: %w", t.Run.ID, db.Translate(err))
	}
	return &d, nil
}

func (c *concurrencyRules) grace(d *Deployment) time.Duration {
	if d.ConcurrencyOptions != nil && d.ConcurrencyOptions.GracePeriodSeconds != nil {
		return time.Duration(*d.ConcurrencyOptions.GracePeriodSeconds) * time.Second
	}
	return c.settings.leaseGrace
}

func (c *concurrencyRules) secureRule() o.Rule {
	return o.Rule{Name: "SecureFlowConcurrencySlots", Order: o.OrderSecureFlowConcurrencySlots,
		From: o.All().Except(o.Pending, o.Running, o.Cancelling), To: o.Of(o.Pending),
		Before: c.secure, After: c.storeLease, Cleanup: c.undo}
}

func (c *concurrencyRules) secure(ctx context.Context, t *o.Transition, memo o.Memo) error {
	if t.Tx == nil || t.Run.DeploymentID == nil || t.Proposed == nil {
		return nil
	}
	d, err := c.limitOf(ctx, t)
	if isNotFound(err) {
		t.Abort("Deployment not found.")
		return nil
	}
	if err != nil || d.ConcurrencyLimitID == nil {
		return err
	}
	size, ok, err := c.limits.Size(ctx, t.Tx, *d.ConcurrencyLimitID)
	if err != nil || !ok {
		return err
	}
	if size == 0 {
		t.Abort("The deployment concurrency limit is 0. The flow will deadlock if submitted again.")
		return nil
	}
	leaseID, taken, err := c.limits.Take(ctx, t.Tx, *d.ConcurrencyLimitID)
	if err != nil {
		return err
	}
	if taken {
		t.Proposed.StateDetails.DeploymentConcurrencyLeaseID = &leaseID
		memo[memoLease], memo[memoLimit] = leaseID, *d.ConcurrencyLimitID
		memo["grace"] = c.grace(d)
		return nil
	}
	if d.ConcurrencyOptions != nil && d.ConcurrencyOptions.CollisionStrategy == "CANCEL_NEW" {
		msg := "Deployment concurrency limit reached."
		return t.Reject(&o.State{ID: uuid.New(), Type: o.Cancelled, Name: "Cancelled", Timestamp: types.Now(), Message: &msg},
			"Deployment concurrency limit reached.")
	}
	when := types.From(time.Now().Add(c.settings.slotWait))
	return t.Reject(&o.State{ID: uuid.New(), Type: o.Scheduled, Name: "AwaitingConcurrencySlot", Timestamp: types.Now(),
		StateDetails: o.StateDetails{ScheduledTime: &when}}, "Deployment concurrency limit reached.")
}

func (c *concurrencyRules) storeLease(ctx context.Context, t *o.Transition, memo o.Memo) error {
	leaseID, ok := memo[memoLease].(uuid.UUID)
	if !ok {
		return nil
	}
	return c.limits.StoreLease(ctx, leaseID, memo[memoLimit].(uuid.UUID), t.Run.ID, memo["grace"].(time.Duration))
}

// undo gives the slot back when a later rule changed the transition; its
// lease was not stored yet.
func (c *concurrencyRules) undo(ctx context.Context, t *o.Transition, memo o.Memo) error {
	leaseID, ok := memo[memoLease].(uuid.UUID)
	if !ok {
		return nil
	}
	limitID := memo[memoLimit].(uuid.UUID)
	if t.Validated != nil {
		t.Validated.StateDetails.DeploymentConcurrencyLeaseID = nil
	}
	return c.limits.Release(ctx, t.Tx, leaseID, &limitID)
}

func (c *concurrencyRules) validateAtRunningRule() o.Rule {
	return o.Rule{Name: "ValidateDeploymentConcurrencyAtRunning", Order: o.OrderValidateDeploymentConcurrency,
		From: o.Of(o.Pending), To: o.Of(o.Running), Before: c.validateAtRunning, After: c.storeLease}
}

func (c *concurrencyRules) validateAtRunning(ctx context.Context, t *o.Transition, memo o.Memo) error {
	if t.Initial == nil || t.Proposed == nil {
		return nil
	}
	leaseID := t.Initial.StateDetails.DeploymentConcurrencyLeaseID
	t.Proposed.StateDetails.DeploymentConcurrencyLeaseID = leaseID
	if leaseID == nil || t.Tx == nil || t.Run.DeploymentID == nil {
		return nil
	}
	d, err := c.limitOf(ctx, t)
	if isNotFound(err) {
		return nil
	}
	if err != nil || d.ConcurrencyLimitID == nil {
		return err
	}
	renewed, err := c.limits.Renew(ctx, *leaseID, c.grace(d))
	if err != nil || renewed {
		return err
	}
	newLease, taken, err := c.limits.Take(ctx, t.Tx, *d.ConcurrencyLimitID)
	if err != nil {
		return err
	}
	if taken {
		t.Proposed.StateDetails.DeploymentConcurrencyLeaseID = &newLease
		memo[memoLease], memo[memoLimit], memo["grace"] = newLease, *d.ConcurrencyLimitID, c.grace(d)
		return nil
	}
	msg := "Deployment concurrency slot lost during provisioning - no slots available to continue execution"
	return t.Reject(&o.State{ID: uuid.New(), Type: o.Cancelled, Name: "Cancelled", Timestamp: types.Now(), Message: &msg},
		"Deployment concurrency limit reached after lease expiry.")
}

func (c *concurrencyRules) preserveLeaseTransform() o.Transform {
	return o.Transform{Name: "PreserveDeploymentConcurrencyLeaseId", Order: 0, Before: func(_ context.Context, t *o.Transition) error {
		if t.Initial == nil || t.Proposed == nil {
			return nil
		}
		if id := t.Initial.StateDetails.DeploymentConcurrencyLeaseID; id != nil && t.Proposed.StateDetails.DeploymentConcurrencyLeaseID == nil {
			t.Proposed.StateDetails.DeploymentConcurrencyLeaseID = id
		}
		return nil
	}}
}

func (c *concurrencyRules) releaseTransform() o.Transform {
	return o.Transform{Name: "ReleaseFlowConcurrencySlots", Order: o.OrderReleaseFlowConcurrencySlots, After: c.release}
}

// holding are the states in which a run holds its deployment's slot.
var holding = o.Of(o.Running, o.Cancelling, o.Pending)

func (c *concurrencyRules) release(ctx context.Context, t *o.Transition) error {
	if t.Nullified() || t.Tx == nil || t.Run.DeploymentID == nil || t.Initial == nil {
		return nil
	}
	if !holding[t.Initial.Type] || holding[t.ProposedType()] {
		return nil
	}
	if t.Proposed.Type == o.Scheduled && t.Proposed.Name == "AwaitingRetry" && t.Status == o.Reject {
		return nil
	}
	d, err := c.limitOf(ctx, t)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if leaseID := t.Initial.StateDetails.DeploymentConcurrencyLeaseID; leaseID != nil {
		return c.limits.Release(ctx, t.Tx, *leaseID, d.ConcurrencyLimitID)
	}
	if d.ConcurrencyLimitID == nil {
		return nil
	}
	return c.limits.GiveOne(ctx, t.Tx, *d.ConcurrencyLimitID)
}
