package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Validator is implemented by request bodies that check their own fields
// after decoding (required fields, ranges, name rules).
type Validator interface {
	Validate() []FieldError
}

// readBody reads the request body; an empty body reads as "{}" because
// Prefect's endpoints whose parameters are all optional accept no body.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("Request body exceeds %d bytes", tooLarge.Limit)}
		}
		return nil, BadRequest("could not read request body").Wrap(err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}"), nil
	}
	return b, nil
}

// Decode reads a JSON object body into v, rejecting unknown fields as
// Prefect's action models do, then runs v's own validation.
func Decode(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if err := strictUnmarshal(b, v, nil); err != nil {
		return withBody(err, b)
	}
	if val, ok := v.(Validator); ok {
		if errs := val.Validate(); len(errs) > 0 {
			return &ValidationError{Errors: errs, Body: rawBody(b)}
		}
	}
	return nil
}

// Params maps top-level body keys to the pointers they decode into, for
// endpoints whose body is a set of named parameters (filters, limit, sort):
// unknown top-level keys are ignored, as FastAPI does, but each parameter is
// decoded strictly so that an unsupported filter field is an error rather
// than a silently wider result.
type Params map[string]any

// DecodeParams reads a JSON object body into params.
func DecodeParams(r *http.Request, params Params) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return withBody(jsonError(err, nil), b)
	}
	for key, dst := range params {
		raw, ok := top[key]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := strictUnmarshal(raw, dst, []any{key}); err != nil {
			return withBody(err, b)
		}
	}
	for key, dst := range params {
		if val, ok := dst.(Validator); ok {
			if errs := val.Validate(); len(errs) > 0 {
				for i := range errs {
					errs[i].Loc = append([]any{"body", key}, errs[i].Loc[1:]...)
				}
				return &ValidationError{Errors: errs, Body: rawBody(b)}
			}
		}
	}
	return nil
}

func withBody(err error, b []byte) error {
	var verr *ValidationError
	if errors.As(err, &verr) {
		verr.Body = rawBody(b)
	}
	return err
}

func strictUnmarshal(b []byte, v any, loc []any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return withInput(jsonError(err, loc), b, len(loc))
	}
	if dec.More() {
		return Invalid("json_invalid", "JSON decode error", nil, loc...)
	}
	return nil
}

// withInput replaces a type error's input with the value the client sent at
// that location (encoding/json reports only its kind, e.g. "number").
// skip is how many leading loc entries (after "body") lie outside b.
func withInput(err error, b []byte, skip int) error {
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.Errors) == 0 || verr.Errors[0].Type == "json_invalid" {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var cur any
	if dec.Decode(&cur) != nil {
		return err
	}
	fe := &verr.Errors[0]
	if len(fe.Loc) < 1+skip {
		return err
	}
	for _, p := range fe.Loc[1+skip:] {
		obj, ok := cur.(map[string]any)
		key, isKey := p.(string)
		if !ok || !isKey {
			return err
		}
		if cur, ok = obj[key]; !ok {
			return err
		}
	}
	fe.Input = cur
	return err
}

// jsonError turns an encoding/json error into pydantic's error entry.
func jsonError(err error, loc []any) error {
	var verr *ValidationError
	if errors.As(err, &verr) {
		return err
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		path := append([]any{}, loc...)
		if typeErr.Field != "" {
			for _, p := range strings.Split(typeErr.Field, ".") {
				path = append(path, p)
			}
		}
		typ, msg := expected(typeErr.Type.Kind().String())
		return Invalid(typ, msg, typeErr.Value, path...)
	}
	var synErr *json.SyntaxError
	if errors.As(err, &synErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ValidationError{Errors: []FieldError{{
			Type: "json_invalid", Loc: []any{"body", 0}, Msg: "JSON decode error",
			Input: map[string]any{}, Ctx: map[string]any{"error": err.Error()},
		}}}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return Invalid("extra_forbidden", "Extra inputs are not permitted", nil, append(append([]any{}, loc...), name)...)
	}
	return Invalid("value_error", err.Error(), nil, loc...)
}

func expected(kind string) (string, string) {
	switch kind {
	case "string":
		return "string_type", "Input should be a valid string"
	case "bool":
		return "bool_type", "Input should be a valid boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "int_type", "Input should be a valid integer"
	case "float32", "float64":
		return "float_type", "Input should be a valid number"
	case "slice", "array":
		return "list_type", "Input should be a valid list"
	case "map", "struct":
		return "dict_type", "Input should be a valid dictionary"
	}
	return "type_error", "Input has the wrong type"
}

// DecodeRaw strictly decodes one JSON value (e.g. a filter object handed to a
// filter.Contributor); errors are located under loc, e.g. ("flow_runs").
func DecodeRaw(raw []byte, v any, loc ...any) error {
	if err := strictUnmarshal(raw, v, loc); err != nil {
		return err
	}
	if val, ok := v.(Validator); ok {
		if errs := val.Validate(); len(errs) > 0 {
			for i := range errs {
				errs[i].Loc = append(append([]any{"body"}, loc...), errs[i].Loc[1:]...)
			}
			return &ValidationError{Errors: errs}
		}
	}
	return nil
}
