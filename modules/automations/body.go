package automations

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/prefect-server/prefect-server/platform/api"
)

// automationModel is Prefect's AutomationCreate (withOwner) or
// AutomationUpdate: AutomationCore's fields, unknown keys refused, and the
// run-deployment loop check.
func automationModel(withOwner bool) model {
	fields := []field{
		{name: "name", check: str},
		{name: "description", def: constant(""), check: str},
		{name: "enabled", def: constant(true), check: boolean},
		{name: "tags", def: emptyList, check: listOf(str)},
		{name: "trigger", check: triggerUnion()},
		{name: "actions", check: listOf(actionUnion())},
		{name: "actions_on_trigger", def: emptyList, check: listOf(actionUnion())},
		{name: "actions_on_resolve", def: emptyList, check: listOf(actionUnion())},
	}
	if withOwner {
		fields = append(fields, field{name: "owner_resource", def: constant(nil), check: optional(str)})
	}
	return model{fields: fields, forbidExtra: true, after: preventRunDeploymentLoops}
}

// loopEvents are the flow-run events every deployment run goes through.
var loopEvents = map[string]bool{
	"prefect.flow-run.Scheduled": true, "prefect.flow-run.Pending": true,
	"prefect.flow-run.Running": true, "prefect.flow-run.*": true,
}

// preventRunDeploymentLoops is Prefect's check that a reactive automation on
// flow-run events does not run a deployment whose runs would trigger it again.
func preventRunDeploymentLoops(out *object, in map[string]any, loc []any) *api.FieldError {
	if out.get("enabled") != true {
		return nil
	}
	t, ok := out.get("trigger").(*object)
	if !ok || t.get("type") != "event" || t.get("posture") != "Reactive" {
		return nil
	}
	expect, _ := t.get("expect").([]any)
	flowRun, problematic := false, false
	for _, e := range expect {
		s := e.(string)
		flowRun = flowRun || strings.HasPrefix(s, "prefect.flow-run.")
		problematic = problematic || loopEvents[s]
	}
	if !flowRun || !problematic {
		return nil
	}
	for _, a := range out.get("actions").([]any) {
		act := a.(*object)
		if act.get("type") != "run-deployment" {
			continue
		}
		if act.get("source") == "inferred" {
			return valueErr("Running an inferred deployment from a flow run state change event will lead to an "+
				"infinite loop of flow runs.  Please choose a specific deployment and add additional filtering labels "+
				"to the match or match_related for this automation's trigger.", in, loc)
		}
		if matchesEveryFlowRun(t.get("match")) && anyMatchesEveryFlowRun(t.get("match_related")) {
			return valueErr("Running a selected deployment from a flow run state change event may lead to an "+
				"infinite loop of flow runs.  Please include additional filtering labels on either match or "+
				"match_related to narrow down which flow runs will trigger this automation to exclude flow runs "+
				"from the deployment you've selected.", in, loc)
		}
	}
	return nil
}

// matchesEveryFlowRun is ResourceSpecification.matches_every_resource_of_kind.
func matchesEveryFlowRun(spec any) bool {
	m, _ := spec.(map[string]any)
	if len(m) == 0 {
		return true
	}
	if len(m) != 1 {
		return false
	}
	for _, v := range specValues(m, "prefect.resource.id") {
		if v == "prefect.flow-run.*" {
			return true
		}
	}
	return false
}

func anyMatchesEveryFlowRun(related any) bool {
	if list, ok := related.([]any); ok {
		for _, r := range list {
			if matchesEveryFlowRun(r) {
				return true
			}
		}
		return false
	}
	return matchesEveryFlowRun(related)
}

// specValues is a spec label's patterns (a string or a list of strings).
func specValues(spec map[string]any, label string) []string {
	switch v := spec[label].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, s := range v {
			if str, ok := s.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	return nil
}

// decodeBody reads a JSON body and validates it with m; 422s carry the body.
func decodeBody(r *http.Request, m model) (*object, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &api.Error{Status: http.StatusRequestEntityTooLarge, Detail: "Request body too large"}
		}
		return nil, api.BadRequest("could not read request body").Wrap(err)
	}
	v, err := decodeJSON(b)
	if err != nil {
		return nil, &api.ValidationError{Errors: []api.FieldError{{Type: "json_invalid", Loc: []any{"body", 0},
			Msg: "JSON decode error", Input: map[string]any{}, Ctx: map[string]any{"error": err.Error()}}}, Body: string(b)}
	}
	out, errs := m.validate(v, []any{"body"})
	if len(errs) > 0 {
		return nil, &api.ValidationError{Errors: errs, Body: v}
	}
	return out.(*object), nil
}
