package workpools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/prefect-server/prefect-server/platform/api"
)

// checkTemplateDefaults is Prefect's validate_job_variable_defaults_for_work_pool:
// the template's variables schema must be a valid JSON schema (Draft
// 2020-12), and the defaults it declares must satisfy it, required
// properties aside. A null default passes (Prefect allows None where a
// default exists) and so does a block-document reference (this server has
// no blocks to resolve it with). Error texts follow Prefect's; the schema
// library's own messages are not Python jsonschema's.
func checkTemplateDefaults(template json.RawMessage) error {
	if len(template) == 0 {
		return nil
	}
	var tmpl map[string]any
	if err := json.Unmarshal(template, &tmpl); err != nil || len(tmpl) == 0 {
		return nil
	}
	vars, ok := tmpl["variables"].(map[string]any)
	if !ok || len(vars) == 0 {
		return nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(withoutRequired(vars))))
	if err != nil {
		return invalidTemplate("Invalid schema: " + err.Error())
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource("variables.json", doc); err != nil {
		return invalidTemplate("Invalid schema: " + err.Error())
	}
	sch, err := c.Compile("variables.json")
	if err != nil {
		return invalidTemplate("Invalid schema: " + schemaErrorText(err))
	}
	props, _ := vars["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	defaults := map[string]any{}
	for _, name := range names {
		prop, _ := props[name].(map[string]any)
		def, has := prop["default"]
		if !has || def == nil || isBlockRef(def) {
			continue
		}
		defaults[name] = def
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(mustJSON(defaults)))
	if err != nil {
		return fmt.Errorf("decode template defaults: %w", err)
	}
	var verr *jsonschema.ValidationError
	if err := sch.Validate(inst); errors.As(err, &verr) {
		field, reason := firstFailure(verr)
		return invalidTemplate(fmt.Sprintf("Validation failed for work pool's job variable defaults: Validation failed for field '%s'. Failure reason: %s", field, reason))
	}
	return nil
}

func invalidTemplate(detail string) error {
	return &api.Error{Status: http.StatusUnprocessableEntity, Detail: detail}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v) // decoded JSON always encodes
	return b
}

// withoutRequired drops every "required" keyword (Prefect's
// ignore_required), copying the schema.
func withoutRequired(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if k == "required" {
				if _, isList := e.([]any); isList {
					continue
				}
			}
			out[k] = withoutRequired(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = withoutRequired(e)
		}
		return out
	}
	return v
}

func isBlockRef(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	ref, ok := m["$ref"].(map[string]any)
	_, hasID := ref["block_document_id"]
	return ok && hasID
}

// firstFailure is the deepest first cause of a validation error: the field
// path (dotted) and its message.
func firstFailure(e *jsonschema.ValidationError) (string, string) {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	path := strings.Join(e.InstanceLocation, ".")
	msg := strings.TrimSpace(e.Error())
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "at '") {
		msg = msg[i+2:]
	}
	return path, msg
}

// schemaErrorText is the innermost message of a schema compilation error.
func schemaErrorText(err error) string {
	var serr *jsonschema.SchemaValidationError
	if errors.As(err, &serr) {
		if verr, ok := serr.Err.(*jsonschema.ValidationError); ok {
			_, msg := firstFailure(verr)
			return msg
		}
	}
	return err.Error()
}
