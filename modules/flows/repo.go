package flows

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes flows.
type repo struct {
	db      *db.DB
	filters *filter.Registry
}

// create inserts the flow unless one with its name exists, and returns the
// stored flow and whether it was inserted (Prefect's idempotent create).
func (r *repo) create(ctx context.Context, f *Flow) (*Flow, bool, error) {
	var out Flow
	inserted := false
	err := r.db.Tx(ctx, func(ctx context.Context, tx bun.Tx) error {
		res, err := tx.NewInsert().Model(f).On("CONFLICT (name) DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("insert flow: %w", db.Translate(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert flow: %w", err)
		}
		inserted = n == 1
		if err := tx.NewSelect().Model(&out).Where("flow.name = ?", f.Name).Limit(1).Scan(ctx); err != nil {
			return fmt.Errorf("read flow %q: %w", f.Name, db.Translate(err))
		}
		return nil
	})
	return &out, inserted, err
}

func (r *repo) byID(ctx context.Context, id uuid.UUID) (*Flow, error) {
	var f Flow
	if err := r.db.Read.NewSelect().Model(&f).Where("flow.id = ?", id).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read flow %s: %w", id, db.Translate(err))
	}
	return &f, nil
}

func (r *repo) byName(ctx context.Context, name string) (*Flow, error) {
	var f Flow
	if err := r.db.Read.NewSelect().Model(&f).Where("flow.name = ?", name).Limit(1).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read flow %q: %w", name, db.Translate(err))
	}
	return &f, nil
}

// update sets the given tags (if any) and bumps updated; false if no such flow.
func (r *repo) update(ctx context.Context, id uuid.UUID, u flowUpdate) (bool, error) {
	q := r.db.NewUpdate().Model((*Flow)(nil)).Set("updated = ?", types.Now()).Where("id = ?", id)
	if u.Tags != nil {
		q = q.Set("tags = ?", db.JSONList(*u.Tags))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update flow %s: %w", id, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// delete deletes one flow; false if there was none.
func (r *repo) delete(ctx context.Context, id uuid.UUID) (bool, error) {
	deleted, err := r.deleteByIDs(ctx, []uuid.UUID{id})
	return len(deleted) > 0, err
}

// deleteByIDs deletes flows (their runs and deployments go with them through
// the foreign keys of those modules) and returns the ids deleted.
func (r *repo) deleteByIDs(ctx context.Context, ids []uuid.UUID) ([]uuid.UUID, error) {
	if len(ids) == 0 {
		return []uuid.UUID{}, nil
	}
	var deleted []uuid.UUID
	err := r.db.NewDelete().Model((*Flow)(nil)).Where("id IN (?)", bun.In(ids)).Returning("id").Scan(ctx, &deleted)
	if err != nil {
		return nil, fmt.Errorf("delete flows: %w", db.Translate(err))
	}
	if deleted == nil {
		deleted = []uuid.UUID{}
	}
	return deleted, nil
}

// relatedKeys are the other modules' filters that the flow list endpoints take.
var relatedKeys = []string{"flow_runs", "task_runs", "deployments", "work_pools"}

func (r *repo) filtered(q *bun.SelectQuery, f api.Filters) (*bun.SelectQuery, error) {
	return r.filters.Apply(q, "flow", "flows", relatedKeys, f)
}

func (r *repo) list(ctx context.Context, f api.Filters, sort string, limit, offset int) ([]Flow, error) {
	flows := []Flow{}
	q, err := r.filtered(r.db.Read.NewSelect().Model(&flows), f)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "flows", sortSQL[sort], limit, offset); err != nil {
		return nil, err
	}
	return flows, nil
}

func (r *repo) count(ctx context.Context, f api.Filters) (int, error) {
	q, err := r.filtered(r.db.Read.NewSelect().Model((*Flow)(nil)), f)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "flows")
}
