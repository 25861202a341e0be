package actions

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// decodeJSON decodes JSON into plain values with Python's number types, as
// Prefect's templates and parameters see them: integers are int64 (a
// template prints 7, not 7.0), other numbers float64, and integers too large
// for int64 keep their digits (json.Number).
func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("extra data after the JSON value")
	}
	return pyNumbers(v), nil
}

func pyNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = pyNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = pyNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if strings.ContainsAny(string(x), ".eE") {
			if f, err := x.Float64(); err == nil {
				return f
			}
		}
	}
	return v
}

// jsonValue decodes raw JSON into plain values (nil for none or bad JSON).
func jsonValue(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil
	}
	return v
}

// deepCopy copies a JSON value.
func deepCopy(v any) any {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return jsonValue(raw)
}
