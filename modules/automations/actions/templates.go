package actions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/jinja"
)

// renderParameters is Prefect's RunDeployment.render_parameters: v1-style
// template strings are upgraded to "__prefect_kind" placeholders, the
// templates' context is read (the triggering event's objects through the
// API, the workspace variables they name), and the parameters are hydrated
// with Jinja rendered. Any problem fails the action as Prefect words it.
func (x *executor) renderParameters(ctx context.Context, inv *invocation) (map[string]any, error) {
	params, _ := jsonValue(inv.spec.Parameters).(map[string]any)
	if params == nil {
		params = map[string]any{}
	}
	upgradeV1Templates(params)

	var templates, variableNames []string
	collectPlaceholders(params, &templates, &variableNames)
	vars, err := x.templateContext(ctx, inv, templates)
	if err != nil {
		return nil, err
	}
	h := hydrator{jinja: vars}
	if len(variableNames) > 0 {
		if h.variables, err = x.workspaceVariables(ctx, inv, variableNames); err != nil {
			return nil, err
		}
	}
	out, keep, err := h.hydrate(params)
	if err != nil {
		var he *hydrationError
		if errors.As(err, &he) && he.detail != "" {
			x.log.Info("run-deployment parameters cannot be hydrated", zap.String("error", he.kind), zap.String("detail", he.detail))
		}
		return nil, failed("Unable to create flow run from deployment: %s", err)
	}
	m, ok := out.(map[string]any)
	if !keep || !ok {
		return map[string]any{}, nil
	}
	return m, nil
}

// upgradeV1Templates wraps plain template strings as Prefect's
// _upgrade_v1_templates does: a lone "{{ expr }}" keeps its JSON type
// (rendered with tojson and parsed back), other templates render as strings.
func upgradeV1Templates(params map[string]any) {
	for k, v := range params {
		switch val := v.(type) {
		case map[string]any:
			if _, ok := val["__prefect_kind"]; !ok {
				upgradeV1Templates(val)
			}
		case []any:
			for i, item := range val {
				switch it := item.(type) {
				case map[string]any:
					upgradeV1Templates(it)
				case string:
					if jinja.MaybeTemplate(it) {
						val[i] = wrapV1Template(it)
					}
				}
			}
		case string:
			if jinja.MaybeTemplate(val) {
				params[k] = wrapV1Template(val)
			}
		}
	}
}

func wrapV1Template(t string) map[string]any {
	s := strings.TrimSpace(t)
	if strings.HasPrefix(s, "{{") && strings.HasSuffix(s, "}}") && strings.Count(s, "{{") == 1 {
		inner := strings.TrimSpace(s[2 : len(s)-2])
		return map[string]any{"__prefect_kind": "json", "value": map[string]any{
			"__prefect_kind": "jinja", "template": "{{ " + inner + " | tojson }}"}}
	}
	return map[string]any{"__prefect_kind": "jinja", "template": t}
}

// collectPlaceholders lists the Jinja templates and variable names the
// parameters hold (the first, non-rendering pass of Prefect's hydrate).
func collectPlaceholders(v any, templates, variables *[]string) {
	switch val := v.(type) {
	case map[string]any:
		switch val["__prefect_kind"] {
		case "jinja":
			if t, ok := val["template"].(string); ok {
				*templates = append(*templates, t)
				return
			}
		case "workspace_variable":
			if n, ok := val["variable_name"].(string); ok {
				*variables = append(*variables, n)
				return
			}
		}
		for _, e := range val {
			collectPlaceholders(e, templates, variables)
		}
	case []any:
		for _, e := range val {
			collectPlaceholders(e, templates, variables)
		}
	}
}

// orchestrationTypes are the objects a template may name that are read from
// the API (the triggering event's resource of that kind), and "variables".
var orchestrationTypes = []string{"deployment", "flow", "flow_run", "task_run", "work_pool", "work_queue", "concurrency_limit"}

// namesIn reports which of names appear as variables in the templates
// (Prefect parses them; a name not after a dot or a quote is close enough).
func namesIn(templates []string, names []string) []string {
	var found []string
	joined := strings.Join(templates, "\n")
	for _, n := range names {
		re := regexp.MustCompile(`(^|[^.\w'"])` + n + `\b`)
		if re.MatchString(joined) {
			found = append(found, n)
		}
	}
	return found
}

// hydrator resolves "__prefect_kind" placeholders as Prefect's hydrate with
// raise_on_error and Jinja rendering.
type hydrator struct {
	jinja     map[string]any
	variables map[string]any
}

// hydrationError is one of Prefect's HydrationErrors. Prefect words the
// failure with its repr, which carries no detail ("InvalidJinja()"), so the
// detail is only logged.
type hydrationError struct{ kind, detail string }

func (e *hydrationError) Error() string { return e.kind + "()" }

// hydrate returns the value and whether to keep it (Prefect's RemoveValue).
func (h hydrator) hydrate(v any) (any, bool, error) {
	switch val := v.(type) {
	case map[string]any:
		if kind, ok := val["__prefect_kind"]; ok {
			return h.kind(kind, val)
		}
		out := make(map[string]any, len(val))
		for k, e := range val {
			hv, keep, err := h.hydrate(e)
			if err != nil {
				return nil, false, err
			}
			if keep {
				out[k] = hv
			}
		}
		return out, true, nil
	case []any:
		out := make([]any, 0, len(val))
		for _, e := range val {
			hv, keep, err := h.hydrate(e)
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

func (h hydrator) kind(kind any, obj map[string]any) (any, bool, error) {
	switch kind {
	case "none":
		v, ok := obj["value"]
		if !ok {
			return nil, false, &hydrationError{kind: "ValueNotFound"}
		}
		return h.hydrate(v)
	case "json":
		return h.json(obj)
	case "jinja":
		return h.template(obj)
	case "workspace_variable":
		return h.variable(obj)
	}
	return obj["value"], true, nil
}

// nested hydrates a placeholder's field that is itself an object.
func (h hydrator) nested(v any) (any, bool, error) {
	if m, isMap := v.(map[string]any); isMap {
		return h.hydrate(m)
	}
	return v, true, nil
}

func (h hydrator) json(obj map[string]any) (any, bool, error) {
	v, ok := obj["value"]
	if !ok {
		return nil, false, nil
	}
	v, keep, err := h.nested(v)
	if err != nil || !keep {
		return v, keep, err
	}
	s, isString := v.(string)
	if !isString {
		return v, true, nil
	}
	out, err := decodeJSON([]byte(s))
	if err != nil {
		return nil, false, &hydrationError{kind: "InvalidJSON", detail: err.Error()}
	}
	return out, true, nil
}

func (h hydrator) template(obj map[string]any) (any, bool, error) {
	t, ok := obj["template"]
	if !ok {
		return nil, false, &hydrationError{kind: "TemplateNotFound"}
	}
	t, keep, err := h.nested(t)
	if err != nil || !keep {
		return t, keep, err
	}
	s, isString := t.(string)
	if !isString {
		return nil, false, &hydrationError{kind: "InvalidJinja", detail: fmt.Sprintf("a template must be a string, not %s", pyRepr(t))}
	}
	if err := jinja.Validate(s); err != nil {
		return nil, false, &hydrationError{kind: "InvalidJinja", detail: err.Error()}
	}
	out, err := jinja.Render(s, h.jinja)
	if err != nil {
		return nil, false, &hydrationError{kind: "InvalidJinja", detail: err.Error()}
	}
	return out, true, nil
}

func (h hydrator) variable(obj map[string]any) (any, bool, error) {
	n, ok := obj["variable_name"]
	if !ok {
		return nil, false, nil
	}
	n, keep, err := h.nested(n)
	if err != nil || !keep {
		return n, keep, err
	}
	name, _ := n.(string)
	v, found := h.variables[name]
	if !found {
		return nil, false, &hydrationError{kind: "WorkspaceVariableNotFound", detail: name}
	}
	return v, true, nil
}
