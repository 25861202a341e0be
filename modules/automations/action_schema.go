package automations

import (
	"encoding/json"

	"github.com/prefect-server/prefect-server/platform/api"
)

// Action validation as Prefect's ServerActionTypes, in its order. Actions
// that target a deployment, work queue, work pool or automation have a
// source ("selected" needs the target's id, "inferred" refuses it).

// stateTypes are Prefect's StateType values, as pydantic quotes the enum.
var stateTypes = []string{"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING"}

const stateTypesShown = "'SCHEDULED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'CRASHED', 'PAUSED' or 'CANCELLING'"

func actionUnion() check {
	return union([]member{
		simpleAction("DoNothing", "do-nothing"),
		targetAction("run-deployment", "RunDeployment", "deployment", runDeploymentFields()...),
		targetAction("pause-deployment", "PauseDeployment", "deployment"),
		targetAction("resume-deployment", "ResumeDeployment", "deployment"),
		simpleAction("CancelFlowRun", "cancel-flow-run"),
		simpleAction("DeleteFlowRun", "delete-flow-run"),
		simpleAction("ChangeFlowRunState", "change-flow-run-state",
			field{name: "name", def: constant(nil), check: optional(str)},
			field{name: "state", check: stateType},
			field{name: "message", def: constant(nil), check: optional(str)},
			field{name: "force", def: constant(false), check: boolean}),
		targetAction("pause-work-queue", "PauseWorkQueue", "work_queue"),
		targetAction("resume-work-queue", "ResumeWorkQueue", "work_queue"),
		simpleAction("SendNotification", "send-notification",
			field{name: "block_document_id", check: uuidValue},
			field{name: "subject", def: constant("Prefect automated notification"), check: template("subject")},
			field{name: "body", check: template("body")}),
		simpleAction("CallWebhook", "call-webhook",
			field{name: "block_document_id", check: uuidValue},
			field{name: "payload", def: constant(""), check: webhookPayload}),
		targetAction("pause-automation", "PauseAutomation", "automation"),
		targetAction("resume-automation", "ResumeAutomation", "automation"),
		simpleAction("SuspendFlowRun", "suspend-flow-run"),
		simpleAction("ResumeFlowRun", "resume-flow-run"),
		targetAction("pause-work-pool", "PauseWorkPool", "work_pool"),
		targetAction("resume-work-pool", "ResumeWorkPool", "work_pool"),
	})
}

func simpleAction(name, typ string, more ...field) member {
	return member{name: name, model: func() model {
		return model{fields: append([]field{{name: "type", def: constant(typ), check: literal(typ)}}, more...)}
	}}
}

// targetAction is an action on a selected or inferred object of a kind
// ("deployment" -> deployment_id), with Prefect's selected_<kind>_requires_id.
func targetAction(typ, class, kind string, more ...field) member {
	idField := kind + "_id"
	name := "function-after[selected_" + kind + "_requires_id(), " + class + "]"
	return member{name: name, model: func() model {
		fields := []field{
			{name: "type", def: constant(typ), check: literal(typ)},
			{name: "source", def: constant("selected"), check: oneOf("'selected' or 'inferred'", "selected", "inferred")},
			{name: idField, def: constant(nil), check: optional(uuidValue)},
		}
		return model{
			fields: append(fields, more...),
			after: func(out *object, in map[string]any, loc []any) *api.FieldError {
				selected := out.get("source") == "selected"
				hasID := out.get(idField) != nil
				if selected == hasID {
					return nil
				}
				msg := idField + " is required"
				if hasID {
					msg = idField + " is not allowed"
				}
				return valueErr(msg, in, loc)
			},
		}
	}}
}

func runDeploymentFields() []field {
	zero := 0.0
	return []field{
		{name: "parameters", def: constant(nil), check: optional(dict)},
		{name: "job_variables", def: constant(nil), check: optional(dict)},
		{name: "schedule_after", def: constant(0.0), check: duration(&zero)},
	}
}

func stateType(v any, loc []any) (any, []api.FieldError) {
	if s, ok := v.(string); ok {
		for _, t := range stateTypes {
			if s == t {
				return s, nil
			}
		}
	}
	return nil, []api.FieldError{{Type: "enum", Loc: loc, Msg: "Input should be " + stateTypesShown, Input: v,
		Ctx: map[string]any{"expected": stateTypesShown}}}
}

// webhookPayload is Prefect's CallWebhook.payload: a template string; an
// object (older UIs) is kept as its indented JSON.
func webhookPayload(v any, loc []any) (any, []api.FieldError) {
	switch v.(type) {
	case nil:
		return nil, []api.FieldError{fieldError("string_type", "Input should be a valid string", v, loc)}
	case string:
		return template("payload")(v, loc)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, []api.FieldError{fieldError("string_type", "Input should be a valid string", v, loc)}
	}
	return template("payload")(string(b), loc)
}

// template is a string field that must be a valid Jinja template.
func template(fieldName string) check {
	return func(v any, loc []any) (any, []api.FieldError) {
		s, errs := str(v, loc)
		if len(errs) > 0 {
			return nil, errs
		}
		if err := validateTemplate(s.(string)); err != nil {
			msg, _ := templateError(err)
			return nil, []api.FieldError{*valueErr("'"+fieldName+"' is not a valid template: "+msg, v, loc)}
		}
		return s, nil
	}
}
