package concurrency

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// limitSQL renders, for one dialect, Prefect's slot arithmetic
// (models/concurrency_limits_v2.py): active and denied slots decay with the
// seconds since the row was updated, and every write of the counters sets
// updated. Times come from Go ("now") so that both dialects and the tests
// agree; the literals spliced in are our own timestamps and numbers.
type limitSQL struct {
	pg               bool
	tagWait, maxWait float64 // seconds: the caps of the denied-slots decay
}

func newSQL(d *db.DB, s settings) limitSQL {
	return limitSQL{pg: d.IsPostgres(), tagWait: s.TagWait.Seconds(), maxWait: s.MaxWait.Seconds()}
}

func (q limitSQL) greatest(a, b string) string {
	if q.pg {
		return "GREATEST(" + a + ", " + b + ")"
	}
	return "max(" + a + ", " + b + ")"
}

func (q limitSQL) least(a, b string) string {
	if q.pg {
		return "LEAST(" + a + ", " + b + ")"
	}
	return "min(" + a + ", " + b + ")"
}

// elapsed is Prefect's date_diff_seconds(updated) at now, never negative (a
// clock behind updated must not add slots).
func (q limitSQL) elapsed(now types.DateTime) string {
	v, _ := now.Value() // a DateTime's value is always its text
	lit := "'" + v.(string) + "'"
	if q.pg {
		return q.greatest("0.0", "EXTRACT(EPOCH FROM (CAST("+lit+" AS TIMESTAMPTZ) - updated))::float8")
	}
	return q.greatest("0.0", "(julianday("+lit+") - julianday(updated)) * 86400.0")
}

// activeAfterDecay is Prefect's active_slots_after_decay.
func (q limitSQL) activeAfterDecay(now types.DateTime) string {
	return "CAST(" + q.greatest("0", "active_slots - FLOOR(slot_decay_per_second * "+q.elapsed(now)+")") + " AS INTEGER)"
}

// deniedAfterDecay is Prefect's denied_slots_after_decay: rate limits decay
// at their rate, concurrency limits at one slot per average occupancy,
// clamped to [0.1 s, the limit's maximum wait].
func (q limitSQL) deniedAfterDecay(now types.DateTime) string {
	maxWait := "CASE WHEN name LIKE 'tag:%' THEN " + sqlFloat(q.tagWait) + " ELSE " + sqlFloat(q.maxWait) + " END"
	occupancy := q.greatest(sqlFloat(minOccupancySeconds), q.least("avg_slot_occupancy_seconds", maxWait))
	rate := "CASE WHEN slot_decay_per_second > 0.0 THEN slot_decay_per_second ELSE 1.0 / " + occupancy + " END"
	return "CAST(" + q.greatest("0", "denied_slots - FLOOR(("+rate+") * "+q.elapsed(now)+")") + " AS INTEGER)"
}

func sqlFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		f = 0
	}
	return strconv.FormatFloat(f, 'f', -1, 64) + "e0" // a float literal in both dialects
}

// Prefect's constants for the average occupancy.
const (
	occupancySamplesMultiplier = 2
	minOccupancySeconds        = 0.1
)

// lock takes the row locks of the limits of ids for the transaction, in id
// order, on PostgreSQL: every write of several limits locks them this way
// first, so that two transactions never wait on each other in a cycle.
// SQLite's single writer needs none.
func (q limitSQL) lock(ctx context.Context, idb bun.IDB, ids []uuid.UUID) error {
	if !q.pg || len(ids) < 2 {
		return nil
	}
	var locked []uuid.UUID
	err := idb.NewSelect().Model((*Limit)(nil)).Column("id").Where("id IN (?)", bun.In(ids)).
		OrderExpr("id").For("UPDATE").Scan(ctx, &locked)
	if err != nil {
		return fmt.Errorf("lock concurrency limits: %w", db.Translate(err))
	}
	return nil
}

// take adds n slots to every limit of ids (locked by the caller), all or none: it reports false,
// having changed nothing that the caller's rollback would not undo, when one
// of them is inactive, gone or has no room after decay.
func (q limitSQL) take(ctx context.Context, idb bun.IDB, ids []uuid.UUID, n int, now types.DateTime) (bool, error) {
	if len(ids) == 0 {
		return true, nil
	}
	aa := q.activeAfterDecay(now)
	res, err := idb.NewUpdate().Model((*Limit)(nil)).
		Set("active_slots = "+aa+" + ?", n).
		Set("denied_slots = "+q.deniedAfterDecay(now)).
		Set("updated = ?", now).
		Where("id IN (?)", bun.In(ids)).
		Where("active = ?", true).
		Where(aa+` + ? <= "limit"`, n).
		Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("take slots: %w", db.Translate(err))
	}
	got, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take slots: %w", err)
	}
	return got == int64(len(ids)), nil
}

// deny counts n denied slots on the active limits of ids (Prefect's
// bulk_update_denied_slots). Unlike Prefect it also writes the decayed
// active slots, so that resetting updated does not forget their decay.
func (q limitSQL) deny(ctx context.Context, idb bun.IDB, ids []uuid.UUID, n int, now types.DateTime) error {
	if len(ids) == 0 {
		return nil
	}
	if err := q.lock(ctx, idb, ids); err != nil {
		return err
	}
	_, err := idb.NewUpdate().Model((*Limit)(nil)).
		Set("denied_slots = "+q.deniedAfterDecay(now)+" + ?", n).
		Set("active_slots = "+q.activeAfterDecay(now)).
		Set("updated = ?", now).
		Where("id IN (?)", bun.In(ids)).
		Where("active = ?", true).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("count denied slots: %w", db.Translate(err))
	}
	return nil
}

// give takes n slots back from the limits of ids (Prefect's
// bulk_decrement_active_slots), never below 0, and folds occupancy (seconds
// the slots were held, if known) into the average occupancy per slot.
// activeOnly skips inactive limits, as Prefect's decrement does.
func (q limitSQL) give(ctx context.Context, idb bun.IDB, ids []uuid.UUID, n int, occupancy float64, activeOnly bool, now types.DateTime) error {
	if len(ids) == 0 {
		return nil
	}
	if err := q.lock(ctx, idb, ids); err != nil {
		return err
	}
	u := idb.NewUpdate().Model((*Limit)(nil)).
		Set("active_slots = "+q.greatest("0", q.activeAfterDecay(now)+" - ?"), n).
		Set("denied_slots = "+q.deniedAfterDecay(now)).
		Set("updated = ?", now).
		Where("id IN (?)", bun.In(ids))
	if activeOnly {
		u = u.Where("active = ?", true)
	}
	if occupancy > 0 && n > 0 {
		perSlot := sqlFloat(math.Max(occupancy/float64(n), minOccupancySeconds))
		samples := `("limit" * ` + strconv.Itoa(occupancySamplesMultiplier) + `.0)`
		u = u.Set(`avg_slot_occupancy_seconds = CASE WHEN "limit" > 0 THEN avg_slot_occupancy_seconds + ` +
			perSlot + ` / ` + samples + ` - avg_slot_occupancy_seconds / ` + samples + ` ELSE avg_slot_occupancy_seconds END`)
	}
	if _, err := u.Exec(ctx); err != nil {
		return fmt.Errorf("give slots back: %w", db.Translate(err))
	}
	return nil
}
