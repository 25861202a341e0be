package automations

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
)

// This file is a small model validator in pydantic's manner, enough for the
// automation bodies: a model is a list of fields with defaults and checks,
// optional "before" and "after" model validators, and a union tries each
// member in turn and, when none fits, reports every member's errors under
// the member's name, as pydantic's smart unions do. The output of a model is
// an ordered object, so that a stored automation has Prefect's field order.

// object is a JSON object that keeps its keys in order.
type object struct {
	keys []string
	vals map[string]any
}

func newObject() *object { return &object{vals: map[string]any{}} }

func (o *object) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *object) get(k string) any { return o.vals[k] }

func (o *object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// check validates one value at loc and returns it normalized.
type check func(v any, loc []any) (any, []api.FieldError)

// field is one model field; def returns the default, nil def means required.
type field struct {
	name  string
	def   func() any
	check check
}

// model is a pydantic model: before may rewrite the input (and fail the
// model), after runs on the validated output only when the fields are valid.
type model struct {
	fields []field
	before func(in map[string]any, loc []any) *api.FieldError
	after  func(out *object, in map[string]any, loc []any) *api.FieldError
	// forbidExtra refuses unknown keys (Prefect's action bodies).
	forbidExtra bool
}

func (m model) validate(v any, loc []any) (any, []api.FieldError) {
	in, ok := v.(map[string]any)
	if !ok {
		return nil, []api.FieldError{fieldError("model_type", "Input should be a valid dictionary or instance of a model", v, loc)}
	}
	if m.before != nil {
		if err := m.before(in, loc); err != nil {
			return nil, []api.FieldError{*err}
		}
	}
	out := newObject()
	var errs []api.FieldError
	for _, f := range m.fields {
		raw, present := in[f.name]
		if !present {
			if f.def == nil {
				errs = append(errs, fieldError("missing", "Field required", in, at(loc, f.name)))
				continue
			}
			out.set(f.name, f.def())
			continue
		}
		val, ferrs := f.check(raw, at(loc, f.name))
		errs = append(errs, ferrs...)
		out.set(f.name, val)
	}
	if m.forbidExtra {
		known := map[string]bool{}
		for _, f := range m.fields {
			known[f.name] = true
		}
		extra := make([]string, 0)
		for k := range in {
			if !known[k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		for _, k := range extra {
			errs = append(errs, fieldError("extra_forbidden", "Extra inputs are not permitted", in[k], at(loc, k)))
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if m.after != nil {
		if err := m.after(out, in, loc); err != nil {
			return nil, []api.FieldError{*err}
		}
	}
	return out, nil
}

// member is one model of a union, named in error locations as pydantic
// names it (e.g. "EventTrigger" or "function-after[...]").
type member struct {
	name  string
	model func() model
}

// union validates v against each member in order; the first that fits wins.
func union(members []member) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		var all []api.FieldError
		for _, m := range members {
			out, errs := m.model().validate(v, at(loc, m.name))
			if len(errs) == 0 {
				return out, nil
			}
			all = append(all, errs...)
		}
		return nil, all
	}
}

func at(loc []any, more ...any) []any {
	out := make([]any, 0, len(loc)+len(more))
	return append(append(out, loc...), more...)
}

func fieldError(typ, msg string, input any, loc []any) api.FieldError {
	return api.FieldError{Type: typ, Loc: loc, Msg: msg, Input: input}
}

func valueErr(msg string, input any, loc []any) *api.FieldError {
	return &api.FieldError{Type: "value_error", Loc: loc, Msg: "Value error, " + msg, Input: input,
		Ctx: map[string]any{"error": map[string]any{}}}
}

func literal(want string) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		if s, ok := v.(string); ok && s == want {
			return s, nil
		}
		exp := "'" + want + "'"
		return nil, []api.FieldError{{Type: "literal_error", Loc: loc, Msg: "Input should be " + exp, Input: v,
			Ctx: map[string]any{"expected": exp}}}
	}
}

// oneOf is a Literal of several strings; shown is how pydantic quotes them.
func oneOf(shown string, allowed ...string) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		if s, ok := v.(string); ok {
			for _, a := range allowed {
				if s == a {
					return s, nil
				}
			}
		}
		return nil, []api.FieldError{{Type: "literal_error", Loc: loc, Msg: "Input should be " + shown, Input: v,
			Ctx: map[string]any{"expected": shown}}}
	}
}

func str(v any, loc []any) (any, []api.FieldError) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return nil, []api.FieldError{fieldError("string_type", "Input should be a valid string", v, loc)}
}

func boolean(v any, loc []any) (any, []api.FieldError) {
	if b, ok := v.(bool); ok {
		return b, nil
	}
	return nil, []api.FieldError{fieldError("bool_type", "Input should be a valid boolean", v, loc)}
}

func integer(v any, loc []any) (any, []api.FieldError) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, nil
		}
		if f, err := x.Float64(); err == nil && f == float64(int64(f)) {
			return int64(f), nil
		}
		return nil, []api.FieldError{fieldError("int_from_float", "Input should be a valid integer, got a number with a fractional part", v, loc)}
	case string:
		var n int64
		if _, err := fmt.Sscan(strings.TrimSpace(x), &n); err == nil {
			return n, nil
		}
		return nil, []api.FieldError{fieldError("int_parsing", "Input should be a valid integer, unable to parse string as an integer", v, loc)}
	}
	return nil, []api.FieldError{fieldError("int_type", "Input should be a valid integer", v, loc)}
}

func uuidValue(v any, loc []any) (any, []api.FieldError) {
	s, ok := v.(string)
	if !ok {
		return nil, []api.FieldError{fieldError("uuid_type", "UUID input should be a string, bytes or UUID object", v, loc)}
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return nil, []api.FieldError{{Type: "uuid_parsing", Loc: loc, Msg: "Input should be a valid UUID, " + err.Error(),
			Input: v, Ctx: map[string]any{"error": err.Error()}}}
	}
	return id.String(), nil
}

func dict(v any, loc []any) (any, []api.FieldError) {
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	return nil, []api.FieldError{fieldError("dict_type", "Input should be a valid dictionary", v, loc)}
}

// optional lets null through.
func optional(c check) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		if v == nil {
			return nil, nil
		}
		return c(v, loc)
	}
}

// listOf validates a JSON list item by item.
func listOf(item check) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		items, ok := v.([]any)
		if !ok {
			return nil, []api.FieldError{fieldError("list_type", "Input should be a valid list", v, loc)}
		}
		out := make([]any, 0, len(items))
		var errs []api.FieldError
		for i, it := range items {
			val, ierrs := item(it, at(loc, i))
			errs = append(errs, ierrs...)
			out = append(out, val)
		}
		return out, errs
	}
}

// stringSet is a set[str]: a list of strings, duplicates dropped.
func stringSet(v any, loc []any) (any, []api.FieldError) {
	items, ok := v.([]any)
	if !ok {
		return nil, []api.FieldError{fieldError("set_type", "Input should be a valid set", v, loc)}
	}
	out := make([]any, 0, len(items))
	seen := map[string]bool{}
	var errs []api.FieldError
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			errs = append(errs, fieldError("string_type", "Input should be a valid string", it, at(loc, i)))
			continue
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, errs
}

func constant(v any) func() any { return func() any { return v } }

func emptyList() any { return []any{} }

func emptyDict() any { return map[string]any{} }

// decodeJSON reads JSON keeping numbers as written.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}
