package deployments

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaOptions are the switches of Prefect's
// prefect.utilities.schema_tools.validate.
type schemaOptions struct {
	preprocess           bool // preprocess_schema: optional fields accept null
	ignoreRequired       bool // every "required" keyword dropped
	allowNoneWithDefault bool // null accepted also where a default exists
}

// validateParameters validates run parameters against the deployment's
// parameter_openapi_schema as Prefect's create_flow_run does.
func validateParameters(params, schema map[string]any) error {
	return validateSchema(params, schema, schemaOptions{preprocess: true})
}

// validateSchema validates obj against schema (JSON Schema 2020-12, as
// Prefect's validator) with Prefect's error text; the reason after
// "Failure reason: " is our schema library's wording.
func validateSchema(obj, schema map[string]any, opts schemaOptions) error {
	if opts.preprocess {
		schema = preprocessSchema(schema, opts.allowNoneWithDefault)
	}
	if opts.ignoreRequired {
		schema, _ = withoutKey(schema, "required").(map[string]any)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("deployment.json", roundTrip(schema)); err != nil {
		return fmt.Errorf("Validation failed. Failure reason: %v", err)
	}
	sch, err := c.Compile("deployment.json")
	if err != nil {
		return fmt.Errorf("Validation failed. Failure reason: %v", err)
	}
	err = sch.Validate(roundTrip(obj))
	var verr *jsonschema.ValidationError
	if !errors.As(err, &verr) {
		return err
	}
	leaf := verr
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	reason := strings.TrimSpace(leaf.Error())
	if i := strings.LastIndex(reason, ": "); i >= 0 && strings.HasPrefix(reason, "at '") {
		reason = reason[i+2:]
	}
	return &schemaError{field: strings.Join(leaf.InstanceLocation, "."), reason: reason}
}

// schemaError is a value that fails a schema: the dotted path of the field
// ("" for the whole value) and why.
type schemaError struct {
	field, reason string
}

func (e *schemaError) Error() string {
	if e.field == "" {
		return "Validation failed. Failure reason: " + e.reason
	}
	return fmt.Sprintf("Validation failed for field '%s'. Failure reason: %s", e.field, e.reason)
}

// preprocessSchema is Prefect's preprocess_schema on a copy of schema:
// properties that are not required (and, unless allowNoneWithDefault, have
// no default) also accept null; tuple "items" lists become "prefixItems";
// block-type definitions also accept a {"$ref": ...} block reference.
func preprocessSchema(schema map[string]any, allowNoneWithDefault bool) map[string]any {
	out, _ := deepCopy(schema).(map[string]any)
	if props, ok := out["properties"].(map[string]any); ok {
		processProperties(props, stringList(out["required"]), allowNoneWithDefault)
	}
	defs, ok := out["definitions"].(map[string]any)
	if !ok {
		return out
	}
	for _, raw := range defs {
		def, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		if props, ok := def["properties"].(map[string]any); ok {
			processProperties(props, stringList(def["required"]), allowNoneWithDefault)
		}
		if _, isBlock := def["block_type_slug"]; isBlock {
			title, _ := def["title"].(string)
			defs[title] = map[string]any{"oneOf": []any{def, blockReference()}}
		}
	}
	return out
}

func processProperties(props map[string]any, required []string, allowNoneWithDefault bool) {
	for key, raw := range props {
		prop, ok := raw.(map[string]any)
		if !ok {
			continue
		}
		typ, hasType := prop["type"]
		_, hasDefault := prop["default"]
		if !contains(required, key) && hasType && typ != "null" && (!hasDefault || allowNoneWithDefault) {
			prop["anyOf"] = []any{map[string]any{"type": typ}, map[string]any{"type": "null"}}
			delete(prop, "type")
		}
		if items, isList := prop["items"].([]any); isList && len(items) > 0 && prop["prefixItems"] == nil {
			prop["prefixItems"] = items
			delete(prop, "items")
		}
		if nested, ok := prop["properties"].(map[string]any); ok {
			processProperties(nested, stringList(prop["required"]), allowNoneWithDefault)
		}
	}
}

// blockReference is the schema of a block document reference by id.
func blockReference() map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{"$ref": map[string]any{"oneOf": []any{
			map[string]any{"type": "string", "format": "uuid"},
			map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}, "minProperties": 1},
		}}},
		"required": []any{"$ref"},
	}
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func deepCopy(v any) any {
	return withoutKey(v, "")
}

// withoutKey is a copy of v with every object key named key removed at any
// depth (Prefect's remove_nested_keys; "" copies).
func withoutKey(v any, key string) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if key == "" || k != key {
				out[k] = withoutKey(e, key)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = withoutKey(e, key)
		}
		return out
	}
	return v
}

// roundTrip turns decoded JSON into the form the schema library reads
// (json.Number for numbers).
func roundTrip(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return v
	}
	return out
}
