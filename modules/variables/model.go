package variables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/types"
)

// Variable is a variable as stored and as the API returns it (Prefect's
// core.Variable). Value is any JSON value, kept as the client sent it.
type Variable struct {
	bun.BaseModel `bun:"table:variable,alias:variable"`

	ID      uuid.UUID       `bun:"id,pk,type:uuid" json:"id"`
	Created types.DateTime  `bun:"created,notnull" json:"created"`
	Updated types.DateTime  `bun:"updated,notnull" json:"updated"`
	Name    string          `bun:"name,notnull" json:"name"`
	Value   json.RawMessage `bun:"value" json:"value"`
	Tags    []string        `bun:"tags,notnull" json:"tags"`
}

// Prefect's limits: MAX_VARIABLE_NAME_LENGTH and MAX_VARIABLE_VALUE_LENGTH
// (the latter in bytes of the value's compact JSON).
const (
	maxNameLength  = 255
	maxValueLength = 5000
)

// variableCreate is the body of POST /variables/ (Prefect's VariableCreate).
// Fields stay raw so that Validate can tell absent from null, as pydantic does.
type variableCreate struct {
	Name  json.RawMessage `json:"name"`
	Value json.RawMessage `json:"value"`
	Tags  json.RawMessage `json:"tags"`

	name  string
	value json.RawMessage
	tags  []string
}

func (c *variableCreate) Validate() []api.FieldError {
	var errs []api.FieldError
	if c.Name == nil {
		errs = append(errs, api.Required("name", c.input())...)
	} else {
		var nerrs []api.FieldError
		c.name, nerrs = checkName(c.Name)
		errs = append(errs, nerrs...)
	}
	if c.Value == nil {
		errs = append(errs, api.Required("value", c.input())...)
	} else {
		var verrs []api.FieldError
		c.value, verrs = checkValue(c.Value)
		errs = append(errs, verrs...)
	}
	c.tags = []string{}
	if c.Tags != nil {
		var terrs []api.FieldError
		c.tags, terrs = checkTags(c.Tags)
		errs = append(errs, terrs...)
	}
	return errs
}

// input is the body as pydantic quotes it for a missing field: the fields
// that were sent (there can be no others, as unknown fields are refused).
func (c *variableCreate) input() map[string]any {
	in := map[string]any{}
	for k, raw := range map[string]json.RawMessage{"name": c.Name, "value": c.Value, "tags": c.Tags} {
		if raw != nil {
			in[k] = decodeAny(raw)
		}
	}
	return in
}

// variableUpdate is the body of PATCH /variables/{id} and
// /variables/name/{name} (Prefect's VariableUpdate): only the fields sent
// are set. A null name or tags passes validation, as in Prefect, and is then
// refused by the database's NOT NULL constraint.
type variableUpdate struct {
	Name  json.RawMessage `json:"name"`
	Value json.RawMessage `json:"value"`
	Tags  json.RawMessage `json:"tags"`

	name      *string
	value     json.RawMessage
	tags      *[]string
	nullField bool
}

func (u *variableUpdate) Validate() []api.FieldError {
	var errs []api.FieldError
	if isNull(u.Name) || isNull(u.Tags) {
		u.nullField = true
	}
	if u.Name != nil && !isNull(u.Name) {
		name, nerrs := checkName(u.Name)
		u.name = &name
		errs = append(errs, nerrs...)
	}
	if u.Value != nil {
		var verrs []api.FieldError
		u.value, verrs = checkValue(u.Value)
		errs = append(errs, verrs...)
	}
	if u.Tags != nil && !isNull(u.Tags) {
		tags, terrs := checkTags(u.Tags)
		u.tags = &tags
		errs = append(errs, terrs...)
	}
	return errs
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// decodeAny reads a JSON value keeping numbers as written.
func decodeAny(raw json.RawMessage) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	_ = dec.Decode(&v) // raw was already decoded once, so it is valid JSON
	return v
}

// checkName validates Prefect's VariableName: at most 255 characters, then
// lowercase letters, digits, dashes and underscores only. Python's re.match
// with "$" also accepts one trailing newline, and so does this.
func checkName(raw json.RawMessage) (string, []api.FieldError) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil || isNull(raw) {
		return "", []api.FieldError{{Type: "string_type", Loc: []any{"body", "name"},
			Msg: "Input should be a valid string", Input: decodeAny(raw)}}
	}
	if n := utf8.RuneCountInString(name); n > maxNameLength {
		return name, []api.FieldError{{Type: "too_long", Loc: []any{"body", "name"},
			Msg:   fmt.Sprintf("Value should have at most %d items after validation, not %d", maxNameLength, n),
			Input: name, Ctx: map[string]any{"field_type": "Value", "max_length": maxNameLength, "actual_length": n}}}
	}
	if strings.TrimLeft(strings.TrimSuffix(name, "\n"), "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return name, []api.FieldError{valueError("name",
			"Variable name must only contain lowercase letters, numbers, and dashes or underscores.", name)}
	}
	return name, nil
}

// checkValue validates Prefect's StrictVariableValue: any JSON value that
// orjson can write (integers within 64 bits) in at most 5000 bytes. It
// returns the value compacted, as stored.
func checkValue(raw json.RawMessage) (json.RawMessage, []api.FieldError) {
	v := decodeAny(raw)
	if !fitsOrjson(v) {
		return nil, []api.FieldError{valueError("value", "Variable value must be serializable to JSON", v)}
	}
	if v != nil && orjsonLen(v) > maxValueLength {
		return nil, []api.FieldError{valueError("value",
			fmt.Sprintf("Variable value must be less than %d characters", maxValueLength), v)}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, []api.FieldError{valueError("value", "Variable value must be serializable to JSON", v)}
	}
	return out.Bytes(), nil
}

// fitsOrjson reports whether every integer in v is within orjson's range
// (int64 or uint64); Python accepts larger ones, orjson cannot write them.
func fitsOrjson(v any) bool {
	switch x := v.(type) {
	case json.Number:
		s := x.String()
		if strings.ContainsAny(s, ".eE") {
			return true
		}
		n, ok := new(big.Int).SetString(s, 10)
		return ok && n.Cmp(big.NewInt(math.MinInt64)) >= 0 && n.Cmp(new(big.Int).SetUint64(math.MaxUint64)) <= 0
	case []any:
		for _, e := range x {
			if !fitsOrjson(e) {
				return false
			}
		}
	case map[string]any:
		for _, e := range x {
			if !fitsOrjson(e) {
				return false
			}
		}
	}
	return true
}

// orjsonLen is the length in bytes of v as orjson writes it: compact, UTF-8,
// no HTML escaping.
func orjsonLen(v any) int {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // decoded JSON always encodes
	return len(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// checkTags validates a list of strings.
func checkTags(raw json.RawMessage) ([]string, []api.FieldError) {
	v := decodeAny(raw)
	items, ok := v.([]any)
	if !ok {
		return nil, []api.FieldError{{Type: "list_type", Loc: []any{"body", "tags"},
			Msg: "Input should be a valid list", Input: v}}
	}
	tags := make([]string, 0, len(items))
	var errs []api.FieldError
	for i, item := range items {
		s, ok := item.(string)
		if !ok {
			errs = append(errs, api.FieldError{Type: "string_type", Loc: []any{"body", "tags", i},
				Msg: "Input should be a valid string", Input: item})
		}
		tags = append(tags, s)
	}
	return tags, errs
}

// valueError is pydantic's entry for a failed validator.
func valueError(field, msg string, input any) api.FieldError {
	return api.FieldError{Type: "value_error", Loc: []any{"body", field}, Msg: "Value error, " + msg,
		Input: input, Ctx: map[string]any{"error": map[string]any{}}}
}
