package concurrency

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Prefect's server-side tag concurrency for task runs (core_policy.py), on
// the limits named "tag:<tag>" that serve the v1 routes:
//
//   - SecureTaskConcurrencySlots, a rule of the task policy placed between
//     PreventRunningTasksFromStoppedFlows and CopyScheduledTime: entering
//     RUNNING takes one slot of every active limit of the run's tags under a
//     lease held by the task run; a limit of 0 aborts; a full limit delays.
//   - ReleaseTaskConcurrencySlots, a universal transform (so that it also
//     runs on forced transitions, as MinimalTaskPolicy has it): a validated
//     state other than RUNNING or CANCELLING gives back the slots of every
//     lease the task run holds on its tags' limits, and revokes them.
//
// Slots are taken and given back in the transaction that writes the state,
// with the lease's hold (see slots.go), so they commit or roll back with the
// state change; Prefect takes them in a session of their own. The lease is
// stored in lease storage in the rule's After hook, once the state is
// written: a rollback after that leaves a lease that holds no slots, which
// the run's next release revokes. A release revokes leases before the
// commit: a rollback after that leaves a hold whose lease is gone, which the
// repossessor gives back.

const (
	memoLease  = "lease_id"
	memoLimits = "limit_ids"
)

func secureTaskConcurrencySlots(s *slots) o.Rule {
	return o.Rule{Name: "SecureTaskConcurrencySlots", Order: o.OrderSecureTaskConcurrencySlots,
		From: o.All(), To: o.Of(o.Running),
		Before: s.secureTaskSlots, After: s.storeTaskLease, Cleanup: s.undoTaskSlots}
}

func releaseTaskConcurrencySlots(s *slots) o.Transform {
	return o.Transform{Name: "ReleaseTaskConcurrencySlots", Order: o.OrderReleaseTaskConcurrencySlots,
		After: s.releaseTaskSlots}
}

// secureTaskSlots takes a slot of each active tag limit of the run, all or
// none, in the transition's transaction.
func (s *slots) secureTaskSlots(ctx context.Context, t *o.Transition, memo o.Memo) error {
	if t.Tx == nil || len(t.Run.Tags) == 0 {
		return nil
	}
	all, err := s.repo.byNames(ctx, t.Tx, tagNames(t.Run.Tags), true)
	if err != nil {
		return err
	}
	active := byTagOrder(activeOf(all), t.Run.Tags)
	if len(active) == 0 {
		return nil
	}
	for _, l := range active {
		if l.Limit == 0 {
			t.Abort(`The concurrency limit on tag "` + tagOf(l) + `" is 0 and will deadlock if the task tries to run again.`)
			return nil
		}
	}
	ids := idsOf(activeOf(all))
	now := types.Now()
	fits, err := s.repo.sql.fits(ctx, t.Tx, ids, 1, now)
	if err != nil {
		return err
	}
	if !fits {
		tags := make([]string, len(active))
		for i, l := range active {
			tags[i] = tagOf(l)
		}
		t.Wait(s.tagDelay(active), "Concurrency limit reached for tags: "+strings.Join(tags, ", "))
		return nil
	}
	ok, err := s.repo.sql.take(ctx, t.Tx, ids, 1, now)
	if err != nil {
		return err
	}
	if !ok { // the rows are locked (or the writer is ours): fits said there was room
		return fmt.Errorf("take tag concurrency slots for task run %s: a limit changed under its lock", t.Run.ID)
	}
	leaseID := uuid.New()
	if err := s.repo.insertHold(ctx, t.Tx, &hold{LeaseID: leaseID, LimitIDs: ids, Slots: 1, Created: now}); err != nil {
		return err
	}
	memo[memoLease], memo[memoLimits] = leaseID, ids
	return nil
}

// storeTaskLease stores the lease of the slots taken, once RUNNING is written.
func (s *slots) storeTaskLease(ctx context.Context, t *o.Transition, memo o.Memo) error {
	id, ok := memo[memoLease].(uuid.UUID)
	if !ok {
		return nil
	}
	meta := leaseMetadata{Slots: 1, Holder: &holder{Type: "task_run", ID: t.Run.ID}}
	if _, err := s.leases.CreateWithID(ctx, id, memo[memoLimits].([]uuid.UUID), v1LeaseTTL, meta.raw()); err != nil {
		return fmt.Errorf("store lease of task run %s: %w", t.Run.ID, err)
	}
	return nil
}

// undoTaskSlots gives the slots back when a later rule changed the
// transition; no lease was stored yet.
func (s *slots) undoTaskSlots(ctx context.Context, t *o.Transition, memo o.Memo) error {
	id, ok := memo[memoLease].(uuid.UUID)
	if !ok {
		return nil
	}
	_, err := s.releaseIn(ctx, t.Tx, id, false)
	return err
}

// releaseTaskSlots gives back and revokes the leases the task run holds on
// its tags' limits when it leaves RUNNING (for anything but CANCELLING).
func (s *slots) releaseTaskSlots(ctx context.Context, t *o.Transition) error {
	if t.Nullified() || t.Tx == nil || t.Validated == nil || len(t.Run.Tags) == 0 ||
		t.Validated.Type == o.Running || t.Validated.Type == o.Cancelling {
		return nil
	}
	ls, err := s.repo.byNames(ctx, t.Tx, tagNames(t.Run.Tags), false)
	if err != nil {
		return err
	}
	var leaseIDs []uuid.UUID
	for _, l := range ls {
		hs, err := s.holders(ctx, l.ID)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if h.holder.ID == t.Run.ID && !slices.Contains(leaseIDs, h.leaseID) {
				leaseIDs = append(leaseIDs, h.leaseID)
			}
		}
	}
	for _, id := range leaseIDs {
		if _, err := s.releaseIn(ctx, t.Tx, id, false); err != nil {
			return err
		}
		if err := s.leases.Revoke(ctx, id); err != nil {
			return fmt.Errorf("revoke lease %s of task run %s: %w", id, t.Run.ID, err)
		}
	}
	return nil
}

// releaseIn gives back the slots a lease holds, once, in idb: false when it
// holds none (already given back, or it never took any).
func (s *slots) releaseIn(ctx context.Context, idb bun.IDB, leaseID uuid.UUID, withOccupancy bool) (bool, error) {
	h, err := s.repo.deleteHold(ctx, idb, leaseID)
	if err != nil || h == nil {
		return false, err
	}
	now := types.Now()
	occupancy := 0.0
	if withOccupancy {
		occupancy = now.Sub(h.Created.Time).Seconds()
	}
	return true, s.repo.sql.give(ctx, idb, h.LimitIDs, h.Slots, occupancy, false, now)
}

// tagDelay is Prefect's delay for a full tag: a jittered wait around the
// average occupancy of the most contended limit, capped by
// PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS, rounded half to
// even as Python's round.
func (s *slots) tagDelay(active []Limit) int {
	maxWait := s.settings.TagWait.Seconds()
	blocking := active[0]
	for _, l := range active[1:] {
		if float64(l.ActiveSlots)/float64(l.Limit) > float64(blocking.ActiveSlots)/float64(blocking.Limit) {
			blocking = l
		}
	}
	avg := float64(blocking.AvgSlotOccupancySeconds)
	if avg == 0 {
		avg = maxWait
	}
	return int(math.RoundToEven(clampedPoisson(math.Min(avg, maxWait))))
}

// byTagOrder orders limits as the run lists its tags.
func byTagOrder(ls []Limit, tags []string) []Limit {
	out := slices.Clone(ls)
	slices.SortStableFunc(out, func(a, b Limit) int {
		return slices.Index(tags, tagOf(a)) - slices.Index(tags, tagOf(b))
	})
	return out
}

func tagOf(l Limit) string { return strings.TrimPrefix(l.Name, tagPrefix) }

// fits reports whether every limit of ids is active and has room for n more
// slots after decay; the caller holds their locks.
func (q limitSQL) fits(ctx context.Context, idb bun.IDB, ids []uuid.UUID, n int, now types.DateTime) (bool, error) {
	got, err := idb.NewSelect().Model((*Limit)(nil)).
		Where("id IN (?)", bun.In(ids)).
		Where("active = ?", true).
		Where(q.activeAfterDecay(now)+` + ? <= "limit"`, n).
		Count(ctx)
	if err != nil {
		return false, fmt.Errorf("check slots: %w", err)
	}
	return int64(got) == int64(len(ids)), nil
}
