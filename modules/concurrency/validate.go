package concurrency

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
)

// pyFloat is a float written as Python writes it: 2.0, not 2.
type pyFloat float64

func (f pyFloat) MarshalJSON() ([]byte, error) { return []byte(formatFloat(float64(f))), nil }

// formatFloat is Python's repr of a float (used for JSON and Retry-After).
func formatFloat(f float64) string {
	abs := math.Abs(f)
	switch {
	case math.IsInf(f, 0) || math.IsNaN(f):
		return "null"
	case f == math.Trunc(f) && abs < 1e16:
		return strconv.FormatFloat(f, 'f', -1, 64) + ".0"
	case abs >= 1e-4 && abs < 1e16:
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'e', -1, 64)
}

// opt is a PATCH field: whether it was sent, and sent as null.
type opt[T any] struct {
	set, null bool
	v         T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.set = true
	if string(b) == "null" {
		o.null = true
		return nil
	}
	return json.Unmarshal(b, &o.v)
}

// ptr is the value sent, or nil.
func (o opt[T]) ptr() *T {
	if !o.set || o.null {
		return nil
	}
	return &o.v
}

// geInt reports an int below min as pydantic does (ge constraint).
func geInt(field string, v *int, min int) []api.FieldError {
	if v == nil || *v >= min {
		return nil
	}
	return []api.FieldError{{Type: "greater_than_equal", Loc: []any{"body", field},
		Msg: fmt.Sprintf("Input should be greater than or equal to %d", min), Input: *v, Ctx: map[string]any{"ge": min}}}
}

// geFloat reports a float below min (ge constraint on a float field).
func geFloat(field string, v *float64, min float64) []api.FieldError {
	if v == nil || *v >= min {
		return nil
	}
	return []api.FieldError{{Type: "greater_than_equal", Loc: []any{"body", field},
		Msg: "Input should be greater than or equal to " + strconv.FormatFloat(min, 'f', -1, 64), Input: *v,
		Ctx: map[string]any{"ge": pyFloat(min)}}}
}

// leFloat reports a float above max (le constraint on a float field).
func leFloat(field string, v *float64, max float64) []api.FieldError {
	if v == nil || *v <= max {
		return nil
	}
	return []api.FieldError{{Type: "less_than_equal", Loc: []any{"body", field},
		Msg: "Input should be less than or equal to " + strconv.FormatFloat(max, 'f', -1, 64), Input: *v,
		Ctx: map[string]any{"le": pyFloat(max)}}}
}

// gtZero reports a value that is not above 0 (gt=0 constraint); ctx is the
// bound as the field's type writes it.
func gtZero(field string, input any, ok bool, bound any) []api.FieldError {
	if ok {
		return nil
	}
	return []api.FieldError{{Type: "greater_than", Loc: []any{"body", field},
		Msg: "Input should be greater than 0", Input: input, Ctx: map[string]any{"gt": bound}}}
}

// literal reports a value outside a Literal's choices.
func literal(loc []any, input string, choices ...string) []api.FieldError {
	for _, c := range choices {
		if input == c {
			return nil
		}
	}
	quoted := make([]string, len(choices))
	for i, c := range choices {
		quoted[i] = "'" + c + "'"
	}
	expected := strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
	return []api.FieldError{{Type: "literal_error", Loc: loc, Msg: "Input should be " + expected,
		Input: input, Ctx: map[string]any{"expected": expected}}}
}

// uuidField parses a UUID field, reporting pydantic's uuid_parsing error.
func uuidField(loc []any, s string) (uuid.UUID, []api.FieldError) {
	id, err := uuid.Parse(s)
	if err == nil {
		return id, nil
	}
	reason := fmt.Sprintf("invalid length: expected length 32 for simple format, found %d", len(s))
	for i, c := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF-", c) {
			reason = fmt.Sprintf("invalid character: found `%c` at %d", c, i)
			break
		}
	}
	return uuid.Nil, []api.FieldError{{Type: "uuid_parsing", Loc: loc, Msg: "Input should be a valid UUID, " + reason,
		Input: s, Ctx: map[string]any{"error": reason}}}
}

// pyRepr is Python's repr of a str, as Prefect quotes limit names in details.
func pyRepr(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	if q == "'" {
		s = strings.ReplaceAll(s, "'", `\'`)
	}
	return q + s + q
}

// decodeParams is api.DecodeParams that also returns the body as JSON, for
// the request_body of the 422s that the endpoints raise themselves.
func decodeParams(r *http.Request, params api.Params) (any, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &api.Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("Request body exceeds %d bytes", tooLarge.Limit)}
		}
		return nil, api.BadRequest("could not read request body").Wrap(err)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	if err := api.DecodeParams(r, params); err != nil {
		return nil, err
	}
	var body any
	if json.Unmarshal(b, &body) != nil {
		body = nil
	}
	return body, nil
}

// invalid is a 422 with the errors found, or nil when there are none.
func invalid(body any, errs []api.FieldError) error {
	if len(errs) == 0 {
		return nil
	}
	return &api.ValidationError{Errors: errs, Body: body}
}
