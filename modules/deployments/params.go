package deployments

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"

	"github.com/prefect-server/prefect-server/platform/api"
	"github.com/prefect-server/prefect-server/platform/jinja"
)

// hydrate resolves the "__prefect_kind" placeholders of run parameters as
// Prefect's hydrate does with raise_on_error, render_jinja and
// render_workspace_variables: "none" (its value), "json" (a JSON string
// parsed), "workspace_variable" (a variable's value) and "jinja" (a
// template rendered in Prefect's sandbox, with no variables).
func (h *handlers) hydrate(r *http.Request, params map[string]any) (map[string]any, error) {
	out, keep, err := h.hydrateValue(r, params)
	if err != nil {
		return nil, err
	}
	m, ok := out.(map[string]any)
	if !keep || !ok {
		return map[string]any{}, nil
	}
	return m, nil
}

// hydrateValue returns the hydrated value and whether to keep it (Prefect's
// RemoveValue drops keys whose placeholder has no value).
func (h *handlers) hydrateValue(r *http.Request, v any) (any, bool, error) {
	switch v := v.(type) {
	case map[string]any:
		if kind, ok := v["__prefect_kind"]; ok {
			return h.hydrateKind(r, kind, v)
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			hv, keep, err := h.hydrateValue(r, e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out[k] = hv
			}
		}
		return out, true, nil
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			hv, keep, err := h.hydrateValue(r, e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out = append(out, hv)
			}
		}
		return out, true, nil
	}
	return v, true, nil
}

func (h *handlers) hydrateKind(r *http.Request, kind any, obj map[string]any) (any, bool, error) {
	inner := func(key string) (any, bool, error) {
		v, ok := obj[key]
		if !ok {
			return nil, false, nil
		}
		if m, isMap := v.(map[string]any); isMap {
			return h.hydrateValue(r, m)
		}
		return v, true, nil
	}
	switch kind {
	case "none":
		if _, ok := obj["value"]; !ok {
			return nil, false, errors.New("Missing 'value' key in __prefect object")
		}
		return h.hydrateValue(r, obj["value"])
	case "json":
		v, ok, err := inner("value")
		if err != nil || !ok {
			return nil, false, err
		}
		s, isString := v.(string)
		if !isString {
			return v, true, nil
		}
		var parsed any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&parsed); err != nil {
			return nil, false, fmt.Errorf("Invalid JSON: %v", err)
		}
		return parsed, true, nil
	case "workspace_variable":
		v, ok, err := inner("variable_name")
		if err != nil || !ok {
			return nil, false, err
		}
		name, _ := v.(string)
		value, found, err := h.repo.variable(r.Context(), name)
		if err != nil {
			return nil, false, err
		}
		if !found {
			return nil, false, fmt.Errorf("Variable '%s' not found in workspace.", name)
		}
		return value, true, nil
	case "jinja":
		if _, ok := obj["template"]; !ok {
			return nil, false, errors.New("Missing 'template' key in __prefect object")
		}
		v, keep, err := inner("template")
		if err != nil || !keep {
			return nil, keep, err
		}
		return renderJinja(v)
	}
	return obj["value"], true, nil // an unknown kind is its value, as call_handler has it
}

// renderJinja is Prefect's jinja handler with render_jinja: the template is
// validated, then rendered with an empty context (Prefect's hydration
// context has no Jinja variables). Prefect answers 500 for a template that
// is not a string; we say it is invalid.
func renderJinja(template any) (any, bool, error) {
	s, isString := template.(string)
	if !isString {
		return nil, false, errors.New("Invalid jinja: the template must be a string")
	}
	if err := jinja.Validate(s); err != nil {
		return nil, false, fmt.Errorf("Invalid jinja: %v", err)
	}
	out, err := jinja.Render(s, map[string]any{})
	if err != nil {
		return nil, false, fmt.Errorf("Invalid jinja: Failed to render template due to the following error: %v", err)
	}
	return out, true, nil
}

// queueForRun is the work queue a run asks for by name: a queue of the
// deployment's work pool (created if missing), as Prefect does.
func (h *handlers) queueForRun(r *http.Request, d *Deployment, name string) (*string, *uuid.UUID, error) {
	if d.WorkPoolName == nil {
		return nil, nil, api.BadRequest(fmt.Sprintf("Cannot create flow run in work queue %s because deployment %s is not associated with a work pool. Please remove work_pool_name and try again.", name, d.ID))
	}
	return h.resolveQueue(r.Context(), *d.WorkPoolName, name)
}
