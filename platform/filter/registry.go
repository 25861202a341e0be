package filter

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// Contributor is how a module lets other modules filter by its table. The
// flow runs module, for example, contributes Key "flow_runs" on Table
// "flow_run" with a Link to "flow", so that POST /flows/filter with a
// "flow_runs" filter returns the flows having a matching run, and flows never
// imports the flow runs module.
type Contributor struct {
	// Key is the request-body key the filter arrives under, e.g. "flow_runs".
	Key string
	// Table is the contributor's table, used as its own alias in Links and Where.
	Table string
	// Links relate a row of Table to a row of another table, by that table's
	// name: {"flow": "flow_run.flow_id = flow.id"}.
	Links map[string]string
	// InLinks relate them through an uncorrelated subquery instead, for a
	// link that goes through a third table: planners run it once and probe
	// the subject's index, where a correlated EXISTS visits every subject
	// row (a flow run's work pool is its queue's pool).
	InLinks map[string]InLink
	// Where decodes the filter body (Prefect's filter object for Table) and
	// returns its conditions on Table. It returns an *api.ValidationError for
	// an invalid filter. reg lets a filter refer to other modules' tables.
	Where func(raw json.RawMessage, reg *Registry) (*Where, error)
}

// InLink renders "<Outer> IN (SELECT <Select> FROM <Table> AS <Table>
// <Join> WHERE <filter>)".
type InLink struct {
	Outer  string // the subject's column, e.g. "flow_run.work_queue_id"
	Select string // what the subquery selects, e.g. "wq.id"
	Join   string // joins from Table to Select's table, e.g. "JOIN work_queue AS wq ON ..."
}

// Registry holds every contributor of the build.
type Registry struct {
	byKey map[string]Contributor
}

// NewRegistry indexes contributors by key; two with the same key are a
// programming error reported at start.
func NewRegistry(cs []Contributor) (*Registry, error) {
	r := &Registry{byKey: make(map[string]Contributor, len(cs))}
	for _, c := range cs {
		if _, dup := r.byKey[c.Key]; dup {
			return nil, fmt.Errorf("two modules contribute the %q filter", c.Key)
		}
		r.byKey[c.Key] = c
	}
	return r, nil
}

// Keys lists the filters this build supports, sorted.
func (r *Registry) Keys() []string {
	out := make([]string, 0, len(r.byKey))
	for k := range r.byKey {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Exists returns the condition "a row of subject (a table name, also its
// alias) has at least one related row matching the filter given under key",
// as Prefect's EXISTS subqueries have it. A null or absent filter is no
// condition (nil). When no module of this build owns key, no such rows can
// exist, so the condition is false.
func (r *Registry) Exists(subject, key string, raw json.RawMessage) (*Where, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	c, ok := r.byKey[key]
	if !ok {
		return And().Add("1 = 0"), nil
	}
	in, isIn := c.InLinks[subject]
	link, ok := c.Links[subject]
	if !ok && !isIn {
		return nil, fmt.Errorf("filter %q cannot restrict %s rows", key, subject)
	}
	inner, err := c.Where(raw, r)
	if err != nil {
		return nil, err
	}
	if isIn {
		return And().AddFunc(func(d dialect.Name) (string, []any) {
			expr, args := "", []any(nil)
			if inner != nil && !inner.Empty() {
				expr, args = inner.render(d)
				expr = " WHERE " + expr
			}
			return in.Outer + " IN (SELECT " + in.Select + " FROM " + c.Table + " AS " + c.Table + " " + in.Join + expr + ")", args
		}), nil
	}
	return And().AddFunc(func(d dialect.Name) (string, []any) {
		expr, args := "", []any(nil)
		if inner != nil && !inner.Empty() {
			expr, args = inner.render(d)
			expr = " AND (" + expr + ")"
		}
		return "EXISTS (SELECT 1 FROM " + c.Table + " AS " + c.Table + " WHERE (" + link + ")" + expr + ")", args
	}), nil
}

// Related applies Exists to q.
func (r *Registry) Related(q *bun.SelectQuery, subject, key string, raw json.RawMessage) (*bun.SelectQuery, error) {
	w, err := r.Exists(subject, key, raw)
	if err != nil {
		return nil, err
	}
	return w.Apply(q), nil
}

// Own applies a module's own filter under key to q (for example "flows" on
// POST /flows/filter), through the same contributor.
func (r *Registry) Own(q *bun.SelectQuery, key string, raw json.RawMessage) (*bun.SelectQuery, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return q, nil
	}
	c, ok := r.byKey[key]
	if !ok {
		return nil, fmt.Errorf("no module of this build owns the %q filter", key)
	}
	w, err := c.Where(raw, r)
	if err != nil {
		return nil, err
	}
	return w.Apply(q), nil
}

// Apply restricts q, a query on table subject, by the subject's own filter
// (under key own) and by every related filter under keys related, all taken
// from filters by body key.
func (r *Registry) Apply(q *bun.SelectQuery, subject, own string, related []string, filters map[string]json.RawMessage) (*bun.SelectQuery, error) {
	q, err := r.Own(q, own, filters[own])
	if err != nil {
		return nil, err
	}
	for _, key := range related {
		if q, err = r.Related(q, subject, key, filters[key]); err != nil {
			return nil, err
		}
	}
	return q, nil
}
