package concurrency

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes limits and lease holds.
type repo struct {
	db  *db.DB
	sql limitSQL
}

// key selects one limit: by id or by name.
type key struct {
	column string // "id" or "name"
	value  any
}

func byID(id uuid.UUID) key             { return key{"id", id} }
func byName(name string) key            { return key{"name", name} }
func (k key) String() string            { return fmt.Sprintf("%s %v", k.column, k.value) }
func (k key) where() (string, any, any) { return "? = ?", bun.Ident(k.column), k.value }

// idOrName reads a path segment as Prefect does: an id when it parses as a UUID.
func idOrName(s string) key {
	if id, err := uuid.Parse(s); err == nil {
		return byID(id)
	}
	return byName(s)
}

func (r *repo) create(ctx context.Context, l *Limit) error {
	if _, err := r.db.NewInsert().Model(l).Exec(ctx); err != nil {
		return fmt.Errorf("insert concurrency limit %q: %w", l.Name, db.Translate(err))
	}
	return nil
}

// decayed selects limits with active_slots after decay, as the read
// endpoints show them.
func (r *repo) decayed(idb bun.IDB, out any) *bun.SelectQuery {
	return idb.NewSelect().Model(out).ExcludeColumn("active_slots").
		ColumnExpr(r.sql.activeAfterDecay(types.Now()) + " AS active_slots")
}

// read returns one limit with its decayed active slots.
func (r *repo) read(ctx context.Context, k key) (*Limit, error) {
	var l Limit
	w, col, v := k.where()
	if err := r.decayed(r.db.Read, &l).Where(w, col, v).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read concurrency limit %s: %w", k, db.Translate(err))
	}
	return &l, nil
}

// list pages through the limits by name, with decayed active slots.
func (r *repo) list(ctx context.Context, limit, offset int) ([]Limit, error) {
	ls := []Limit{}
	if limit == 0 {
		return ls, nil // bun reads LIMIT 0 as no limit
	}
	if err := r.decayed(r.db.Read, &ls).OrderExpr("name, id").Limit(int64(limit)).Offset(int64(offset)).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list concurrency limits: %w", db.Translate(err))
	}
	return ls, nil
}

// update sets the fields sent and bumps updated; false if no such limit.
func (r *repo) update(ctx context.Context, k key, u *limitUpdate) (bool, error) {
	w, col, v := k.where()
	q := r.db.NewUpdate().Model((*Limit)(nil)).Set("updated = ?", types.Now()).Where(w, col, v)
	if p := u.Active.ptr(); p != nil {
		q = q.Set("active = ?", *p)
	}
	if p := u.Name.ptr(); p != nil {
		q = q.Set("name = ?", *p)
	}
	if p := u.Limit.ptr(); p != nil {
		q = q.Set(`"limit" = ?`, *p)
	}
	if p := u.ActiveSlots.ptr(); p != nil {
		q = q.Set("active_slots = ?", *p)
	}
	if p := u.DeniedSlots.ptr(); p != nil {
		q = q.Set("denied_slots = ?", *p)
	}
	if p := u.SlotDecayPerSecond.ptr(); p != nil {
		q = q.Set("slot_decay_per_second = ?", *p)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update concurrency limit %s: %w", k, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// delete removes a limit; false if there was none. Leases that hold it
// keep their other limits.
func (r *repo) delete(ctx context.Context, k key) (bool, error) {
	w, col, v := k.where()
	res, err := r.db.NewDelete().Model((*Limit)(nil)).Where(w, col, v).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("delete concurrency limit %s: %w", k, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// byNames reads the limits with these names as stored (no decay applied),
// in id order; lock takes their row locks for the transaction on PostgreSQL
// (SQLite's writer already holds the database), always in id order so that
// two transactions never wait on each other in a cycle.
func (r *repo) byNames(ctx context.Context, idb bun.IDB, names []string, lock bool) ([]Limit, error) {
	ls := []Limit{}
	if len(names) == 0 {
		return ls, nil
	}
	q := idb.NewSelect().Model(&ls).Where("name IN (?)", bun.In(names)).OrderExpr("id")
	if lock && r.db.IsPostgres() {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("read concurrency limits: %w", db.Translate(err))
	}
	return ls, nil
}

// insertHold records the slots a lease takes, in the taking transaction.
func (r *repo) insertHold(ctx context.Context, idb bun.IDB, h *hold) error {
	if _, err := idb.NewInsert().Model(h).Exec(ctx); err != nil {
		return fmt.Errorf("record lease %s: %w", h.LeaseID, db.Translate(err))
	}
	return nil
}

// deleteHold removes a lease's hold and returns it; nil when there was none
// (never taken, or already given back).
func (r *repo) deleteHold(ctx context.Context, idb bun.IDB, leaseID uuid.UUID) (*hold, error) {
	var h hold
	err := idb.NewDelete().Model(&h).Where("lease_id = ?", leaseID).Returning("*").Scan(ctx)
	if err != nil {
		if err = db.Translate(err); errors.Is(err, db.ErrNotFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("release lease %s: %w", leaseID, err)
	}
	return &h, nil
}

// holdPage is how many holds eachHold reads at a time.
const holdPage = 500

// eachHold calls fn for every hold recorded before cutoff, by lease id.
func (r *repo) eachHold(ctx context.Context, cutoff types.DateTime, fn func(hold) error) error {
	after := uuid.Nil
	for {
		hs := []hold{}
		err := r.db.Read.NewSelect().Model(&hs).Where("created < ?", cutoff).Where("lease_id > ?", after).
			OrderExpr("lease_id").Limit(holdPage).Scan(ctx)
		if err != nil {
			return fmt.Errorf("list lease holds: %w", db.Translate(err))
		}
		for _, h := range hs {
			if err := fn(h); err != nil {
				return err
			}
		}
		if len(hs) < holdPage {
			return nil
		}
		after = hs[len(hs)-1].LeaseID
	}
}
