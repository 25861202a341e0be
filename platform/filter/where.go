// Package filter builds the SQL of Prefect's filter objects on both dialects
// and lets a module filter its rows by another module's filter (the
// "flows whose flow runs match..." joins) without importing that module.
package filter

import (
	"encoding/json"
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Where collects conditions joined by one operator, as Prefect's
// PrefectOperatorFilterBaseModel does ("and_" by default, or "or_").
type Where struct {
	or    bool
	parts []part
}

// part renders one condition for a dialect.
type part func(d dialect.Name) (string, []any)

// And returns an empty conjunction.
func And() *Where { return &Where{} }

// WithOperator returns an empty group joined by Prefect's operator value
// ("and_" or "or_"; empty means and_).
func WithOperator(op string) *Where { return &Where{or: op == "or_"} }

// Empty reports whether no condition was added.
func (w *Where) Empty() bool { return len(w.parts) == 0 }

// Add appends a raw condition with bun placeholders.
func (w *Where) Add(expr string, args ...any) *Where {
	w.parts = append(w.parts, func(dialect.Name) (string, []any) { return expr, args })
	return w
}

// AddFunc appends a condition that depends on the dialect.
func (w *Where) AddFunc(f func(d dialect.Name) (string, []any)) *Where {
	w.parts = append(w.parts, f)
	return w
}

// In adds "col IN (vals)"; an empty list matches nothing, as SQLAlchemy's
// in_([]) does. vals must be a slice.
func (w *Where) In(col string, vals any, n int) *Where {
	if n == 0 {
		return w.Add("1 = 0")
	}
	return w.Add(col+" IN (?)", bun.In(vals))
}

// NotIn adds "col NOT IN (vals)"; an empty list is no condition.
func (w *Where) NotIn(col string, vals any, n int) *Where {
	if n == 0 {
		return w
	}
	return w.Add(col+" NOT IN (?)", bun.In(vals))
}

// ILike adds a case-insensitive "contains" match, as SQLAlchemy's ilike with
// "%value%" (the value's own % and _ stay wildcards, as in Prefect).
func (w *Where) ILike(col, s string) *Where {
	return w.Add("LOWER("+col+") LIKE LOWER(?)", "%"+s+"%")
}

// JSONHasAll adds "the JSON array col contains every value".
func (w *Where) JSONHasAll(col string, vals []string) *Where {
	if len(vals) == 0 {
		return w
	}
	b, _ := json.Marshal(vals) // a []string always marshals
	return w.AddFunc(func(d dialect.Name) (string, []any) {
		if d == dialect.PG {
			return col + " @> ?::jsonb", []any{string(b)}
		}
		return "NOT EXISTS (SELECT 1 FROM json_each(?) AS want WHERE want.value NOT IN (SELECT value FROM json_each(" + col + ")))", []any{string(b)}
	})
}

// JSONHasAny adds "the JSON array col contains at least one of the values".
func (w *Where) JSONHasAny(col string, vals []string) *Where {
	if len(vals) == 0 {
		return w.Add("1 = 0")
	}
	b, _ := json.Marshal(vals)
	return w.AddFunc(func(d dialect.Name) (string, []any) {
		if d == dialect.PG {
			// jsonb_exists_any, not the ?| operator: bun reads "?" as a placeholder.
			return "jsonb_exists_any(" + col + ", ARRAY(SELECT jsonb_array_elements_text(?::jsonb)))", []any{string(b)}
		}
		return "EXISTS (SELECT 1 FROM json_each(" + col + ") AS have WHERE have.value IN (SELECT value FROM json_each(?)))", []any{string(b)}
	})
}

// JSONEmpty adds "the JSON array col is empty" (or not empty when empty is false).
func (w *Where) JSONEmpty(col string, empty bool) *Where {
	cmp := " = 0"
	if !empty {
		cmp = " > 0"
	}
	return w.AddFunc(func(d dialect.Name) (string, []any) {
		if d == dialect.PG {
			return "jsonb_array_length(" + col + ")" + cmp, nil
		}
		return "json_array_length(" + col + ")" + cmp, nil
	})
}

// JSONFieldIn adds "the text of key field of the JSON object col is one of
// vals" (SQLAlchemy's col["field"].astext.in_(vals)); an empty list matches
// nothing.
func (w *Where) JSONFieldIn(col, field string, vals []string) *Where {
	if len(vals) == 0 {
		return w.Add("1 = 0")
	}
	return w.AddFunc(func(d dialect.Name) (string, []any) {
		if d == dialect.PG {
			return "(" + col + " ->> '" + field + "') IN (?)", []any{bun.In(vals)}
		}
		return "json_extract(" + col + ", '$." + field + "') IN (?)", []any{bun.In(vals)}
	})
}

// IsNull adds "col IS NULL" or "col IS NOT NULL".
func (w *Where) IsNull(col string, isNull bool) *Where {
	if isNull {
		return w.Add(col + " IS NULL")
	}
	return w.Add(col + " IS NOT NULL")
}

// Not adds the negation of another Where; an empty or nil one is skipped.
func (w *Where) Not(sub *Where) *Where {
	if sub == nil || sub.Empty() {
		return w
	}
	return w.AddFunc(func(d dialect.Name) (string, []any) {
		e, a := sub.render(d)
		return "NOT (" + e + ")", a
	})
}

// Group nests another Where as one condition; an empty group is skipped.
func (w *Where) Group(sub *Where) *Where {
	if sub == nil || sub.Empty() {
		return w
	}
	return w.AddFunc(sub.render)
}

func (w *Where) render(d dialect.Name) (string, []any) {
	sep := " AND "
	if w.or {
		sep = " OR "
	}
	exprs := make([]string, 0, len(w.parts))
	var args []any
	for _, p := range w.parts {
		e, a := p(d)
		exprs = append(exprs, "("+e+")")
		args = append(args, a...)
	}
	return strings.Join(exprs, sep), args
}

// Apply adds the conditions to q as one WHERE clause.
func (w *Where) Apply(q *bun.SelectQuery) *bun.SelectQuery {
	if w == nil || w.Empty() {
		return q
	}
	expr, args := w.render(q.Dialect().Name())
	return q.Where(expr, args...)
}
