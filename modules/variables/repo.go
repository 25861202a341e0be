package variables

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/db"
	"github.com/prefect-server/prefect-server/platform/filter"
	"github.com/prefect-server/prefect-server/platform/types"
)

// repo reads and writes variables.
type repo struct {
	db      *db.DB
	filters *filter.Registry
}

// key selects one variable: by id or by name.
type key struct {
	column string // "id" or "name"
	value  any
}

func (k key) String() string { return fmt.Sprintf("%s %v", k.column, k.value) }

func (r *repo) create(ctx context.Context, v *Variable) error {
	if _, err := r.db.NewInsert().Model(v).Exec(ctx); err != nil {
		return fmt.Errorf("insert variable %q: %w", v.Name, db.Translate(err))
	}
	return nil
}

func (r *repo) read(ctx context.Context, k key) (*Variable, error) {
	var v Variable
	if err := r.db.Read.NewSelect().Model(&v).Where("? = ?", bun.Ident("variable."+k.column), k.value).Scan(ctx); err != nil {
		return nil, fmt.Errorf("read variable %s: %w", k, db.Translate(err))
	}
	return &v, nil
}

// update sets the fields sent and bumps updated; false if no such variable.
func (r *repo) update(ctx context.Context, k key, u *variableUpdate) (bool, error) {
	q := r.db.NewUpdate().Model((*Variable)(nil)).Set("updated = ?", types.Now()).Where("? = ?", bun.Ident(k.column), k.value)
	if u.name != nil {
		q = q.Set("name = ?", *u.name)
	}
	if u.value != nil {
		q = q.Set("value = ?", string(u.value))
	}
	if u.tags != nil {
		q = q.Set("tags = ?", db.JSONList(*u.tags))
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("update variable %s: %w", k, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// delete removes a variable; false if there was none.
func (r *repo) delete(ctx context.Context, k key) (bool, error) {
	res, err := r.db.NewDelete().Model((*Variable)(nil)).Where("? = ?", bun.Ident(k.column), k.value).Exec(ctx)
	if err != nil {
		return false, fmt.Errorf("delete variable %s: %w", k, db.Translate(err))
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

func (r *repo) list(ctx context.Context, f json.RawMessage, order string, limit, offset int) ([]Variable, error) {
	vars := []Variable{}
	q, err := r.filters.Own(r.db.Read.NewSelect().Model(&vars), "variables", f)
	if err != nil {
		return nil, err
	}
	if err := db.Page(ctx, q, "variables", order, limit, offset); err != nil {
		return nil, err
	}
	return vars, nil
}

func (r *repo) count(ctx context.Context, f json.RawMessage) (int, error) {
	q, err := r.filters.Own(r.db.Read.NewSelect().Model((*Variable)(nil)), "variables", f)
	if err != nil {
		return 0, err
	}
	return db.Count(ctx, q, "variables")
}
