package api

import (
	"encoding/json"
	"strings"
)

// bannedNameChars are the characters Prefect's Name type refuses.
const bannedNameChars = "/%&><"

// NamePattern is Prefect's Name regular expression, quoted in its errors.
const NamePattern = "^[^/%&><]+$"

// CheckName validates a Prefect Name field (non-empty, none of "/%&><").
func CheckName(field, name string) []FieldError {
	if name != "" && !strings.ContainsAny(name, bannedNameChars) {
		return nil
	}
	return []FieldError{{
		Type: "string_pattern_mismatch", Loc: []any{"body", field},
		Msg: "String should match pattern '" + NamePattern + "'", Input: name,
		Ctx: map[string]any{"pattern": NamePattern},
	}}
}

// Required reports a missing field as pydantic does.
func Required(field string, input any) []FieldError {
	return []FieldError{{Type: "missing", Loc: []any{"body", field}, Msg: "Field required", Input: input}}
}

// CheckLabels validates Prefect's KeyValueLabels: values must be strings,
// numbers or booleans.
func CheckLabels(field string, labels map[string]any) []FieldError {
	var errs []FieldError
	for k, v := range labels {
		switch v.(type) {
		case string, bool, json.Number, float64:
			continue
		}
		errs = append(errs, FieldError{
			Type: "string_type", Loc: []any{"body", field, k},
			Msg: "Input should be a valid string", Input: v,
		})
	}
	return errs
}
