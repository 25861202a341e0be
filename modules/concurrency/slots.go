package concurrency

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// slots takes and gives back concurrency slots, with or without leases.
type slots struct {
	repo     *repo
	leases   leaseStore
	settings settings
	log      *zap.Logger
}

// errNoRoom rolls back a take that did not fit.
var errNoRoom = errors.New("no room in a concurrency limit")

// leaseSpec asks take for a lease on the slots it takes.
type leaseSpec struct {
	ttl  time.Duration
	meta leaseMetadata
	// activeOnly makes the lease hold the active limits only (the v1
	// routes); otherwise it holds every named limit, as Prefect's v2 does.
	activeOnly bool
}

// taken is the outcome of take.
type taken struct {
	limits  []Limit // the named limits that exist, as read before the take
	active  []Limit // those that are active: the ones slots were taken from
	ok      bool    // false: some active limit had no room, nothing was taken
	leaseID uuid.UUID
}

// take takes n slots from every active limit named, all or none, in one
// transaction; check may refuse the request after the limits are read. With
// a lease spec the same transaction records the lease's hold, and the lease
// is stored after the commit; if that fails the slots are given back.
func (s *slots) take(ctx context.Context, names []string, n int, check func(all, active []Limit) error, spec *leaseSpec) (taken, error) {
	t := taken{leaseID: uuid.New()}
	now := types.Now()
	err := s.repo.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		all, err := s.repo.byNames(ctx, tx, names, true)
		if err != nil {
			return err
		}
		t.limits, t.active = all, activeOf(all)
		if check != nil {
			if err := check(t.limits, t.active); err != nil {
				return err
			}
		}
		ok, err := s.repo.sql.take(ctx, tx, idsOf(t.active), n, now)
		if err != nil {
			return err
		}
		if !ok {
			return errNoRoom
		}
		if spec == nil || len(t.active) == 0 {
			return nil
		}
		return s.repo.insertHold(ctx, tx, &hold{LeaseID: t.leaseID, LimitIDs: idsOf(t.active), Slots: n, Created: now})
	})
	if errors.Is(err, errNoRoom) {
		return t, nil
	}
	if err != nil {
		return t, err
	}
	t.ok = true
	if spec == nil {
		return t, nil
	}
	resources := t.limits
	if spec.activeOnly {
		resources = t.active
	}
	if len(resources) == 0 {
		return t, nil // nothing held: no lease to store (Prefect stores an empty one)
	}
	if _, err := s.leases.CreateWithID(ctx, t.leaseID, idsOf(resources), spec.ttl, spec.meta.raw()); err != nil {
		if _, rerr := s.release(context.WithoutCancel(ctx), t.leaseID, false); rerr != nil {
			s.log.Error("could not give back the slots of an unstored lease; the repossessor will",
				zap.Stringer("lease_id", t.leaseID), zap.Error(rerr))
		}
		return t, fmt.Errorf("store lease: %w", err)
	}
	return t, nil
}

// release gives back the slots a lease holds, once: false when it holds
// none (already given back, or it never took any). The lease itself is left
// to the caller to revoke.
func (s *slots) release(ctx context.Context, leaseID uuid.UUID, withOccupancy bool) (bool, error) {
	released := false
	err := s.repo.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		var err error
		released, err = s.releaseIn(ctx, tx, leaseID, withOccupancy)
		return err
	})
	return released, err
}

// releaseAndRevoke gives back a lease's slots, then drops the lease.
func (s *slots) releaseAndRevoke(ctx context.Context, leaseID uuid.UUID, withOccupancy bool) error {
	if _, err := s.release(ctx, leaseID, withOccupancy); err != nil {
		return err
	}
	return s.leases.Revoke(ctx, leaseID)
}

// releaseHolders gives back and revokes every lease on the limit: those in
// lease storage, expired or not, and those whose hold names it (a lease lost
// by lease storage, which the repossessor would otherwise give back later).
func (s *slots) releaseHolders(ctx context.Context, limitID uuid.UUID) error {
	ids := map[uuid.UUID]bool{}
	ls, err := s.leases.ByResource(ctx, limitID)
	if err != nil {
		return err
	}
	for _, l := range ls {
		ids[l.ID] = true
	}
	expired, err := s.leases.ExpiredIDs(ctx, 0)
	if err != nil {
		return err
	}
	for _, id := range expired {
		l, err := s.leases.Read(ctx, id)
		if err != nil {
			return err
		}
		if l != nil && slices.Contains(l.ResourceIDs, limitID) {
			ids[id] = true
		}
	}
	err = s.repo.eachHold(ctx, types.From(time.Now().Add(time.Hour)), func(h hold) error {
		if slices.Contains(h.LimitIDs, limitID) {
			ids[h.LeaseID] = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	for id := range ids {
		if err := s.releaseAndRevoke(ctx, id, false); err != nil {
			return err
		}
	}
	return nil
}

// holders lists the holders of the unexpired leases on a limit.
func (s *slots) holders(ctx context.Context, limitID uuid.UUID) ([]leaseHolder, error) {
	ls, err := s.leases.ByResource(ctx, limitID)
	if err != nil {
		return nil, err
	}
	var out []leaseHolder
	for _, l := range ls {
		var m leaseMetadata
		if json.Unmarshal(l.Metadata, &m) == nil && m.Holder != nil {
			out = append(out, leaseHolder{leaseID: l.ID, holder: *m.Holder})
		}
	}
	return out, nil
}

type leaseHolder struct {
	leaseID uuid.UUID
	holder  holder
}

// taskRuns is a v1 limit's active_slots: the task runs holding its leases.
func (s *slots) taskRuns(ctx context.Context, limitID uuid.UUID) ([]uuid.UUID, error) {
	hs, err := s.holders(ctx, limitID)
	if err != nil {
		return nil, err
	}
	out := []uuid.UUID{}
	for _, h := range hs {
		if h.holder.Type == "task_run" {
			out = append(out, h.holder.ID)
		}
	}
	return out, nil
}

// locked counts the denied slots and returns Prefect's 423 with a
// Retry-After computed from the limit that blocks most.
func (s *slots) locked(ctx context.Context, t taken, n int) error {
	now := types.Now()
	err := s.repo.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return s.repo.sql.deny(ctx, tx, idsOf(t.active), n, now)
	})
	if err != nil {
		return err
	}
	retry := clampedPoisson(s.averageWait(t.active, n))
	return &api.Error{Status: http.StatusLocked, Detail: "Locked", Headers: map[string]string{"Retry-After": formatFloat(retry)}}
}

// averageWait is the mean wait before a retry can succeed: for a rate limit
// the time its decay takes to free the requested and already denied slots;
// otherwise the average occupancy per slot times the queue in front, capped.
func (s *slots) averageWait(active []Limit, n int) float64 {
	blockingSlots := func(l Limit) float64 {
		if l.SlotDecayPerSecond > 0 {
			return float64(n + l.DeniedSlots)
		}
		return float64(n+l.DeniedSlots) / float64(max(l.Limit, 1))
	}
	var blocking *Limit
	most := math.Inf(-1)
	for i := range active {
		if b := blockingSlots(active[i]); b > most {
			blocking, most = &active[i], b
		}
	}
	if blocking == nil {
		return 0
	}
	if blocking.SlotDecayPerSecond > 0 {
		return most / float64(blocking.SlotDecayPerSecond)
	}
	maxWait := s.settings.MaxWait.Seconds()
	if isTagLimit(blocking.Name) {
		maxWait = s.settings.TagWait.Seconds()
	}
	perSlot := math.Min(float64(blocking.AvgSlotOccupancySeconds), maxWait)
	return math.Min(perSlot*most, maxWait)
}

// clampedPoisson is Prefect's clamped_poisson_interval: a jittered wait
// around average, between about 0.75 and 1.3 times it.
func clampedPoisson(average float64) float64 {
	const clampingFactor = 0.3
	if average <= 0 {
		return 0
	}
	upperMultiple := 1 + clampingFactor
	upper := average * upperMultiple
	lower := math.Max(0, average*lowerClampMultiple(upperMultiple))
	lo, hi := expCDF(lower, average), expCDF(upper, average)
	u := lo + (hi-lo)*rand.Float64()
	return -math.Log(math.Max(1-u, 1e-10)) * average
}

func lowerClampMultiple(k float64) float64 {
	if k >= 50 {
		return 0
	}
	return math.Log2(math.Max(math.Pow(2, k)/(math.Pow(2, k)-1), 1e-10))
}

func expCDF(x, average float64) float64 { return 1 - math.Exp(-x/average) }

func isTagLimit(name string) bool {
	return len(name) >= len(tagPrefix) && name[:len(tagPrefix)] == tagPrefix
}

func activeOf(ls []Limit) []Limit {
	out := []Limit{}
	for _, l := range ls {
		if l.Active {
			out = append(out, l)
		}
	}
	return out
}

func idsOf(ls []Limit) []uuid.UUID {
	out := make([]uuid.UUID, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}
