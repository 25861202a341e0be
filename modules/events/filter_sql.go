package events

import (
	"strings"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"

	"github.com/prefect-server/prefect-server/platform/filter"
)

// where renders the filter on the "events" table as Prefect's
// EventFilter.build_where_clauses does. Criteria on resources go through the
// event_resources table (alias "er"), scoped to the same occurred range; idb
// makes those subqueries.
func (f *EventFilter) where(idb bun.IDB) *filter.Where {
	w := filter.And()
	w.Add("events.occurred >= ?", f.Occurred.Since).Add("events.occurred <= ?", f.Occurred.Until)
	scoped := func(conds *filter.Where) *filter.Where {
		sub := idb.NewSelect().TableExpr("event_resources AS er").Column("er.event_id").
			Where("er.occurred >= ?", f.Occurred.Since).Where("er.occurred <= ?", f.Occurred.Until)
		return filter.And().Add("events.id IN (?)", conds.Apply(sub))
	}
	if f.Event != nil {
		w.Group(f.Event.where())
	}
	if f.Resource != nil {
		w.Group(f.Resource.where(scoped))
	}
	for i := range f.Related {
		w.Group(f.Related[i].where(scoped))
	}
	for i := range f.AnyResource {
		w.Group(f.AnyResource[i].where(scoped))
	}
	if len(f.ID.ID) > 0 {
		w.In("events.id", f.ID.ID, len(f.ID.ID))
	}
	if f.Text != nil {
		w.Group(f.Text.where())
	}
	return w
}

func (f *NameFilter) where() *filter.Where {
	w := filter.And()
	if len(f.Prefix) > 0 {
		or := filter.WithOperator("or_")
		for _, p := range f.Prefix {
			or.AddFunc(startsWith("events.event", p, false))
		}
		w.Group(or)
	}
	for _, p := range f.ExcludePrefix {
		w.AddFunc(startsWith("events.event", p, true))
	}
	if len(f.Name) > 0 {
		w.In("events.event", f.Name, len(f.Name))
	}
	w.NotIn("events.event", f.ExcludeName, len(f.ExcludeName))
	return w
}

func (f *ResourceFilter) where(scoped func(*filter.Where) *filter.Where) *filter.Where {
	w := filter.And()
	if len(f.ID) > 0 {
		w.In("events.resource_id", f.ID, len(f.ID))
	}
	if len(f.IDPrefix) > 0 {
		or := filter.WithOperator("or_")
		for _, p := range f.IDPrefix {
			or.AddFunc(startsWith("events.resource_id", p, false))
		}
		w.Group(or)
	}
	if f.Labels != nil {
		// The primary resource is the row with an empty role.
		conds := filter.And().Add("er.resource_role = ''")
		conds.Group(f.Labels.where(false))
		w.Group(scoped(conds))
	}
	return w
}

func (f *RelatedFilter) where(scoped func(*filter.Where) *filter.Where) *filter.Where {
	conds := filter.And()
	if len(f.ID) > 0 {
		conds.In("er.resource_id", f.ID, len(f.ID))
	}
	if len(f.Role) > 0 {
		conds.In("er.resource_role", f.Role, len(f.Role))
	}
	if len(f.ResourcesInRoles) > 0 {
		or := filter.WithOperator("or_")
		for _, p := range f.ResourcesInRoles {
			or.Add("er.resource_id = ? AND er.resource_role = ?", p[0], p[1])
		}
		conds.Group(or)
	}
	if f.Labels != nil {
		conds.Group(f.Labels.where(true))
	}
	if conds.Empty() {
		return nil
	}
	if len(f.Role) == 0 {
		conds.Add("er.resource_role <> ''") // related resources only
	}
	return scoped(conds)
}

func (f *AnyResourceFilter) where(scoped func(*filter.Where) *filter.Where) *filter.Where {
	conds := filter.And()
	if len(f.ID) > 0 {
		conds.In("er.resource_id", f.ID, len(f.ID))
	}
	if len(f.IDPrefix) > 0 {
		or := filter.WithOperator("or_")
		for _, p := range f.IDPrefix {
			or.AddFunc(startsWith("er.resource_id", p, false))
		}
		conds.Group(or)
	}
	if f.Labels != nil {
		conds.Group(f.Labels.where(true))
	}
	if conds.Empty() {
		return nil
	}
	return scoped(conds)
}

// where matches labels on an event_resources row: the id against its column,
// the role (when byRole) exactly against its column, every other label
// against the stored JSON. A label given an empty list matches nothing.
func (s ResourceSpec) where(byRole bool) *filter.Where {
	w := filter.And()
	for label, pats := range s {
		switch {
		case label == LabelID:
			if len(pats) > 0 { // an empty id list is no condition, as in Prefect
				w.Group(anyPattern(func(dialect.Name) (string, []any) { return "er.resource_id", nil }, pats))
			}
		case label == LabelRole && byRole:
			if len(pats) > 0 {
				w.In("er.resource_role", []string(pats), len(pats))
			}
		case len(pats) == 0:
			w.Add("1 = 0")
		default:
			w.Group(anyPattern(labelColumn(label), pats))
		}
	}
	return w
}

// anyPattern is "the column matches one of the patterns".
func anyPattern(col func(d dialect.Name) (string, []any), pats []string) *filter.Where {
	or := filter.WithOperator("or_")
	for _, p := range pats {
		or.AddFunc(func(d dialect.Name) (string, []any) {
			c, args := col(d)
			negated := strings.HasPrefix(p, "!")
			pat := strings.TrimPrefix(p, "!")
			not := ""
			if negated {
				not = "NOT "
			}
			if d == dialect.PG {
				return c + " " + not + "LIKE ? ESCAPE '\\'", append(args, likePattern(pat))
			}
			return c + " " + not + "GLOB ?", append(args, globPattern(pat))
		})
	}
	return or
}

// labelColumn is the text of a label in er.resource, with its arguments.
func labelColumn(label string) func(d dialect.Name) (string, []any) {
	return func(d dialect.Name) (string, []any) {
		switch {
		case d == dialect.PG:
			return "(er.resource ->> ?)", []any{label}
		case strings.ContainsAny(label, `"\`):
			// A JSON path cannot quote these; look the key up instead.
			return "(SELECT j.value FROM json_each(er.resource) AS j WHERE j.key = ?)", []any{label}
		}
		return "json_extract(er.resource, ?)", []any{`$."` + label + `"`}
	}
}

// startsWith is "col starts with prefix" (or not), the prefix taken literally.
func startsWith(col, prefix string, negated bool) func(d dialect.Name) (string, []any) {
	return func(d dialect.Name) (string, []any) {
		not := ""
		if negated {
			not = "NOT "
		}
		if d == dialect.PG {
			return col + " " + not + "LIKE ? ESCAPE '\\'", []any{escapeLike(prefix) + "%"}
		}
		return col + " " + not + "GLOB ?", []any{escapeGlob(prefix) + "*"}
	}
}

func (f *TextFilter) where() *filter.Where {
	q := parseTextQuery(f.Query)
	if strings.TrimSpace(f.Query) == "" {
		return nil
	}
	text := func(d dialect.Name) string {
		if d == dialect.PG {
			return "lower(concat(events.event, ' ', events.resource::text, ' ', events.related::text, ' ', events.payload::text))"
		}
		return "lower(events.event || ' ' || events.resource || ' ' || events.related || ' ' || events.payload)"
	}
	contains := func(term string, negated bool) func(d dialect.Name) (string, []any) {
		return func(d dialect.Name) (string, []any) {
			not := ""
			if negated {
				not = "NOT "
			}
			return text(d) + " " + not + "LIKE ? ESCAPE '\\'", []any{"%" + escapeLike(strings.ToLower(term)) + "%"}
		}
	}
	w := filter.And()
	if len(q.include) > 0 {
		or := filter.WithOperator("or_")
		for _, t := range q.include {
			or.AddFunc(contains(t, false))
		}
		w.Group(or)
	}
	for _, t := range q.exclude {
		w.AddFunc(contains(t, true))
	}
	for _, t := range q.required {
		w.AddFunc(contains(t, false))
	}
	return w
}

// likePattern translates a label pattern to LIKE: * and ? are wildcards,
// the rest literal (Prefect's _is_like_match_expression).
func likePattern(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*':
			b.WriteByte('%')
		case '?':
			b.WriteByte('_')
		case '\\', '%', '_':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// globPattern translates a label pattern to SQLite's GLOB, which, unlike
// SQLite's LIKE, is case-sensitive as the pattern match is on PostgreSQL.
func globPattern(p string) string {
	return strings.ReplaceAll(p, "[", "[[]")
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func escapeGlob(s string) string {
	return strings.NewReplacer(`[`, `[[]`, `*`, `[*]`, `?`, `[?]`).Replace(s)
}
