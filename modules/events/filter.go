package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// EventFilter is Prefect's EventFilter (prefect.server.events.filters). Its
// JSON is strict (unknown fields are an error, as extra="forbid" has it) and
// its output is what Prefect's model_dump(mode="json") gives, so page tokens
// look alike.
type EventFilter struct {
	Occurred    OccurredFilter               `json:"occurred"`
	Event       *NameFilter                  `json:"event"`
	Resource    *ResourceFilter              `json:"resource"`
	Related     oneOrMany[RelatedFilter]     `json:"related"`
	AnyResource oneOrMany[AnyResourceFilter] `json:"any_resource"`
	ID          IDFilter                     `json:"id"`
	Text        *TextFilter                  `json:"text"`
	Order       string                       `json:"order"`
}

// OccurredFilter bounds when events occurred (both ends inclusive).
type OccurredFilter struct {
	Since types.DateTime `json:"since"`
	Until types.DateTime `json:"until"`
}

// NameFilter is EventNameFilter.
type NameFilter struct {
	Prefix        []string `json:"prefix"`
	ExcludePrefix []string `json:"exclude_prefix"`
	Name          []string `json:"name"`
	ExcludeName   []string `json:"exclude_name"`
}

// ResourceFilter is EventResourceFilter (the primary resource).
type ResourceFilter struct {
	ID       []string      `json:"id"`
	IDPrefix []string      `json:"id_prefix"`
	Labels   *ResourceSpec `json:"labels"`
	Distinct bool          `json:"distinct"`
}

// RelatedFilter is EventRelatedFilter.
type RelatedFilter struct {
	ID               []string      `json:"id"`
	Role             []string      `json:"role"`
	ResourcesInRoles [][2]string   `json:"resources_in_roles"`
	Labels           *ResourceSpec `json:"labels"`
}

// AnyResourceFilter is EventAnyResourceFilter (the primary or a related resource).
type AnyResourceFilter struct {
	ID       []string      `json:"id"`
	IDPrefix []string      `json:"id_prefix"`
	Labels   *ResourceSpec `json:"labels"`
}

// IDFilter is EventIDFilter; an empty list is no condition.
type IDFilter struct {
	ID []uuid.UUID `json:"id"`
}

// TextFilter is EventTextFilter.
type TextFilter struct {
	Query string `json:"query"`
}

// ResourceSpec is Prefect's ResourceSpecification: label -> one pattern or a
// list of them (any may match; a list that is empty matches nothing).
type ResourceSpec map[string]patterns

// patterns is a label's value in a ResourceSpec: a string or a list.
type patterns []string

func (p *patterns) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*p = patterns{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("label patterns must be a string or a list of strings")
	}
	*p = l
	return nil
}

// oneOrMany is a filter given as one object or a list of them (each must hold).
type oneOrMany[T any] []T

func (o *oneOrMany[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var l []T
		if err := strictDecode(b, &l); err != nil {
			return err
		}
		*o = l
		return nil
	}
	var one T
	if err := strictDecode(b, &one); err != nil {
		return err
	}
	*o = oneOrMany[T]{one}
	return nil
}

func (o oneOrMany[T]) MarshalJSON() ([]byte, error) {
	switch len(o) {
	case 0:
		return []byte("null"), nil
	case 1:
		return json.Marshal(o[0])
	}
	return json.Marshal([]T(o))
}

func strictDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// orders are EventOrder's values.
const (
	OrderASC  = "ASC"
	OrderDESC = "DESC"
)

// maxTextQuery is EventTextFilter.query's max_length.
const maxTextQuery = 200

// newFilter returns Prefect's default filter at now: events of the last 180
// days (from the start of that day) until now, newest first.
func newFilter(now time.Time) EventFilter {
	return EventFilter{Occurred: defaultOccurred(now), Order: OrderDESC, ID: IDFilter{ID: []uuid.UUID{}}}
}

func defaultOccurred(now time.Time) OccurredFilter {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	return OccurredFilter{Since: types.From(day.AddDate(0, 0, -180)), Until: types.From(now)}
}

// decodeFilter reads an EventFilter (raw may be empty or null: the default)
// and validates it; errors are located under loc (e.g. "filter").
func decodeFilter(raw json.RawMessage, now time.Time, loc ...any) (*EventFilter, error) {
	f := newFilter(now)
	if len(raw) == 0 || string(raw) == "null" {
		return &f, nil
	}
	// Decoding over the defaults keeps those of absent fields, e.g. the
	// "until" of an occurred filter that gives only "since".
	if err := api.DecodeRaw(raw, &f, loc...); err != nil {
		return nil, err
	}
	if f.Order == "" {
		f.Order = OrderDESC
	}
	if f.ID.ID == nil {
		f.ID.ID = []uuid.UUID{}
	}
	if f.Order != OrderASC && f.Order != OrderDESC {
		return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "enum", Loc: append(append([]any{"body"}, loc...), "order"),
			Msg: "Input should be 'ASC' or 'DESC'", Input: f.Order, Ctx: map[string]any{"expected": "'ASC' or 'DESC'"}}}}
	}
	if f.Text != nil && len([]rune(f.Text.Query)) > maxTextQuery {
		return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "string_too_long", Loc: append(append([]any{"body"}, loc...), "text", "query"),
			Msg: "String should have at most 200 characters", Input: f.Text.Query, Ctx: map[string]any{"max_length": maxTextQuery}}}}
	}
	return &f, nil
}

// clamp limits how far back the filter looks (EventOccurredFilter.clamp).
func (o *OccurredFilter) clamp(maxAge time.Duration, now time.Time) {
	if earliest := now.Add(-maxAge); o.Since.Before(earliest) {
		o.Since = types.From(earliest)
	}
}

// includes reports whether e matches the filter, as the stream checks live
// events. Unlike Prefect, which ignores the related filter here, related
// criteria are applied with the same meaning as in the SQL query.
func (f *EventFilter) includes(e *Event) bool {
	if e.Occurred.Before(f.Occurred.Since.Time) || e.Occurred.After(f.Occurred.Until.Time) {
		return false
	}
	if f.Event != nil && !f.Event.includes(e.Event) {
		return false
	}
	if f.Resource != nil && !f.Resource.includes(e.Resource) {
		return false
	}
	for _, r := range f.Related {
		if !r.includes(e) {
			return false
		}
	}
	for _, a := range f.AnyResource {
		if !a.includes(e) {
			return false
		}
	}
	if len(f.ID.ID) > 0 && !slices.Contains(f.ID.ID, e.ID) {
		return false
	}
	return f.Text == nil || f.Text.includes(e)
}

func (f *NameFilter) includes(name string) bool {
	if len(f.Prefix) > 0 && !slices.ContainsFunc(f.Prefix, func(p string) bool { return strings.HasPrefix(name, p) }) {
		return false
	}
	if slices.ContainsFunc(f.ExcludePrefix, func(p string) bool { return strings.HasPrefix(name, p) }) {
		return false
	}
	if len(f.Name) > 0 && !slices.Contains(f.Name, name) {
		return false
	}
	return !slices.Contains(f.ExcludeName, name)
}

func (f *ResourceFilter) includes(r Labels) bool {
	id := r.ID()
	if len(f.ID) > 0 && !slices.Contains(f.ID, id) {
		return false
	}
	if len(f.IDPrefix) > 0 && !slices.ContainsFunc(f.IDPrefix, func(p string) bool { return strings.HasPrefix(id, p) }) {
		return false
	}
	return f.Labels == nil || f.Labels.matches(r)
}

// includes: some related resource (never the primary one unless a role
// filter asks for roles) matches every criterion.
func (f *RelatedFilter) includes(e *Event) bool {
	if len(f.ID) == 0 && len(f.Role) == 0 && len(f.ResourcesInRoles) == 0 && f.Labels == nil {
		return true
	}
	for _, r := range e.Related {
		id, role := r.ID(), r.Role()
		if len(f.ID) > 0 && !slices.Contains(f.ID, id) {
			continue
		}
		if len(f.Role) > 0 && !slices.Contains(f.Role, role) {
			continue
		}
		if len(f.ResourcesInRoles) > 0 && !slices.Contains(f.ResourcesInRoles, [2]string{id, role}) {
			continue
		}
		if f.Labels != nil && !f.Labels.matches(r) {
			continue
		}
		return true
	}
	return false
}

func (f *AnyResourceFilter) includes(e *Event) bool {
	for _, r := range append([]Labels{e.Resource}, e.Related...) {
		id := r.ID()
		if len(f.ID) > 0 && !slices.Contains(f.ID, id) {
			continue
		}
		if len(f.IDPrefix) > 0 && !slices.ContainsFunc(f.IDPrefix, func(p string) bool { return strings.HasPrefix(id, p) }) {
			continue
		}
		if f.Labels != nil && !f.Labels.matches(r) {
			continue
		}
		return true
	}
	return false
}

// matches: for every label, the resource's value matches one of its patterns.
func (s ResourceSpec) matches(r Labels) bool {
	for label, pats := range s {
		v, ok := r.Get(label)
		if !slices.ContainsFunc(pats, func(p string) bool { return globMatch(p, v, ok) }) {
			return false
		}
	}
	return true
}

func (f *TextFilter) includes(e *Event) bool {
	q := parseTextQuery(f.Query)
	parts := []string{e.Event}
	for _, r := range append([]Labels{e.Resource}, e.Related...) {
		for _, lb := range r {
			parts = append(parts, lb.Value)
		}
	}
	parts = append(parts, string(e.Payload))
	text := strings.ToLower(strings.Join(parts, " "))
	has := func(t string) bool { return strings.Contains(text, strings.ToLower(t)) }
	if len(q.include) > 0 && !slices.ContainsFunc(q.include, has) {
		return false
	}
	if slices.ContainsFunc(q.exclude, has) {
		return false
	}
	for _, t := range q.required {
		if !has(t) {
			return false
		}
	}
	return true
}
