package actions

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
)

// actionSpec is an action as the automation stores it: every field of every
// action type Prefect 3.9.1's server runs (ServerActionTypes).
type actionSpec struct {
	Type   string `json:"type"`
	Source string `json:"source"`

	DeploymentID    *uuid.UUID `json:"deployment_id"`
	WorkQueueID     *uuid.UUID `json:"work_queue_id"`
	WorkPoolID      *uuid.UUID `json:"work_pool_id"`
	AutomationID    *uuid.UUID `json:"automation_id"`
	BlockDocumentID *uuid.UUID `json:"block_document_id"`

	// run-deployment
	// Parameters and JobVariables are kept as JSON so that numbers keep
	// their digits on their way to the deployment.
	Parameters    json.RawMessage `json:"parameters"`
	JobVariables  json.RawMessage `json:"job_variables"`
	ScheduleAfter json.RawMessage `json:"schedule_after"`

	// change-flow-run-state
	Name    *string `json:"name"`
	State   string  `json:"state"`
	Message *string `json:"message"`
	Force   bool    `json:"force"`

	// send-notification and call-webhook
	Subject *string         `json:"subject"`
	Body    string          `json:"body"`
	Payload json.RawMessage `json:"payload"`
}

// actionFailed is Prefect's ActionFailed: an expected failure, reported with
// the action.failed event and not retried.
type actionFailed struct{ reason string }

func (e *actionFailed) Error() string { return e.reason }

func failed(format string, args ...any) error {
	return &actionFailed{reason: fmt.Sprintf(format, args...)}
}

// act carries out one action type.
type act func(ctx context.Context, x *executor, inv *invocation) error

// actions maps each action type Prefect 3.9.1's server runs to its code.
var actions = map[string]act{
	"do-nothing":            func(context.Context, *executor, *invocation) error { return nil },
	"run-deployment":        runDeployment,
	"pause-deployment":      targetCommand("Pausing deployment", deploymentTarget, post("/deployments/%s/pause_deployment")),
	"resume-deployment":     targetCommand("Resuming deployment", deploymentTarget, post("/deployments/%s/resume_deployment")),
	"cancel-flow-run":       changeFlowRunState(cancelState),
	"change-flow-run-state": changeFlowRunState(requestedState),
	"suspend-flow-run":      changeFlowRunState(suspendState),
	"delete-flow-run":       deleteFlowRun,
	"resume-flow-run":       resumeFlowRun,
	"pause-work-queue":      targetCommand("Pausing work queue", workQueueTarget, patch("/work_queues/%s", map[string]any{"is_paused": true})),
	"resume-work-queue":     targetCommand("Resuming work queue", workQueueTarget, patch("/work_queues/%s", map[string]any{"is_paused": false})),
	"pause-work-pool":       workPoolCommand("Pausing work pool", true),
	"resume-work-pool":      workPoolCommand("Resuming work pool", false),
	"pause-automation":      targetCommand("Pausing automation", automationTarget, patch("/automations/%s", map[string]any{"enabled": false})),
	"resume-automation":     targetCommand("Resuming automation", automationTarget, patch("/automations/%s", map[string]any{"enabled": true})),
	"send-notification":     sendNotification,
	"call-webhook":          callWebhook,
}

// reasonFromResponse is Prefect's ExternalDataAction.reason_from_response.
func (inv *invocation) reasonFromResponse(r response) string {
	if r.Status == 409 || r.Status == 422 {
		d := r.detail()
		if r.Status == 422 || d != nil {
			reason := fmt.Sprintf("Validation error occurred for %s", pyRepr(inv.spec.Type))
			if d != nil {
				reason += " - " + pyStr(d)
			}
			return reason
		}
		return fmt.Sprintf("Conflict (409) occurred for %s - %s", pyRepr(inv.spec.Type), pyRepr(string(r.Body)))
	}
	return fmt.Sprintf("Unexpected status from %s action: %d", pyRepr(inv.spec.Type), r.Status)
}

// commandResult records a command's status and fails the action on an
// error status, as Prefect's command actions do.
func (inv *invocation) commandResult(r response) error {
	inv.details["status_code"] = r.Status
	if r.Status >= 300 {
		return failed("%s", inv.reasonFromResponse(r))
	}
	return nil
}

// selectedOrInferred is the id a source-based action works on: the selected
// one, or the first resource of kind in the triggering event (Prefect's
// *_id_to_use), with Prefect's failure reasons.
func (inv *invocation) selectedOrInferred(selected *uuid.UUID, kind, noun string) (uuid.UUID, error) {
	if inv.spec.Source != "inferred" {
		if selected == nil || *selected == uuid.Nil {
			return uuid.Nil, failed("%s_id is required", noun)
		}
		return *selected, nil
	}
	if inv.event == nil {
		return uuid.Nil, failed("No event to infer the %s", humanNoun(noun))
	}
	if id, ok := inv.firstIDOfKind(kind); ok {
		return id, nil
	}
	return uuid.Nil, failed("No %s could be inferred", humanNoun(noun))
}

func humanNoun(noun string) string {
	switch noun {
	case "work_queue":
		return "work queue"
	case "work_pool":
		return "work pool"
	}
	return noun
}
