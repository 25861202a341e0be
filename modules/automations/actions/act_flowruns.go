package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/platform/types"
)

// flowRunID is the flow run an action works on: the one the trigger tracks
// (for_each on prefect.resource.id, as proactive triggers have no event),
// else the triggering event's first flow run (Prefect's FlowRunAction).
func (inv *invocation) flowRunID() (uuid.UUID, error) {
	if rid, ok := inv.msg.TriggeringLabels["prefect.resource.id"]; ok {
		if id, ok := idFromResourceID(rid, "prefect.flow-run"); ok {
			return id, nil
		}
	}
	if id, ok := inv.firstIDOfKind("prefect.flow-run"); ok {
		return id, nil
	}
	return uuid.Nil, failed("No flow run could be inferred")
}

// flowRunRequest finds the flow run, names it in the action's events and
// sends one request about it.
func (x *executor) flowRunRequest(ctx context.Context, inv *invocation, description, method, suffix string, body any) (response, error) {
	id, err := inv.flowRunID()
	if err != nil {
		return response{}, err
	}
	inv.target("flow-run", id, "")
	x.log.Info(description, zap.Stringer("flow_run_id", id), zap.Stringer("automation", inv.automation.ID))
	return x.api.do(ctx, inv.headers(), method, "/flow_runs/"+id.String()+suffix, body)
}

// newState builds the state a state-change action proposes.
type newState func(inv *invocation) map[string]any

func cancelState(inv *invocation) map[string]any {
	return map[string]any{"type": "CANCELLING", "name": nil,
		"message": fmt.Sprintf("Cancelled by Automation %s", inv.automation.ID)}
}

func requestedState(inv *invocation) map[string]any {
	msg := fmt.Sprintf("State changed by Automation %s", inv.automation.ID)
	if inv.spec.Message != nil && *inv.spec.Message != "" {
		msg = *inv.spec.Message
	}
	return map[string]any{"type": inv.spec.State, "name": inv.spec.Name, "message": msg}
}

// suspendState is Prefect's Suspended(timeout_seconds=3600): Paused, named
// Suspended, rescheduled on resume.
func suspendState(inv *invocation) map[string]any {
	return map[string]any{
		"type": "PAUSED", "name": "Suspended",
		"message": fmt.Sprintf("Suspended by Automation %s", inv.automation.ID),
		"state_details": map[string]any{
			"pause_timeout":    types.From(time.Now().Add(time.Hour)),
			"pause_reschedule": true,
			"pause_key":        nil,
		},
	}
}

// orchestrationResult is what set_state and resume answer.
type orchestrationResult struct {
	Status  string `json:"status"`
	Details struct {
		Type   string  `json:"type"`
		Reason *string `json:"reason"`
	} `json:"details"`
}

func (o orchestrationResult) accepted() bool { return o.Details.Type == "accept_details" }

func (o orchestrationResult) reason() string {
	if o.Details.Reason == nil {
		return "None"
	}
	return *o.Details.Reason
}

// changeFlowRunState proposes a state for the flow run through set_state.
func changeFlowRunState(state newState) act {
	return func(ctx context.Context, x *executor, inv *invocation) error {
		body := map[string]any{"state": state(inv), "force": inv.spec.Force}
		r, err := x.flowRunRequest(ctx, inv, "Changing flow run state", http.MethodPost, "/set_state", body)
		if err != nil {
			return err
		}
		if err := inv.commandResult(r); err != nil {
			return err
		}
		var res orchestrationResult
		if err := json.Unmarshal(r.Body, &res); err != nil {
			return fmt.Errorf("read set_state result: %w", err)
		}
		if !res.accepted() {
			return failed("Failed to set state: %s", res.reason())
		}
		return nil
	}
}

func deleteFlowRun(ctx context.Context, x *executor, inv *invocation) error {
	r, err := x.flowRunRequest(ctx, inv, "Deleting flow run", http.MethodDelete, "", nil)
	if err != nil {
		return err
	}
	return inv.commandResult(r)
}

// resumeFlowRun resumes a paused or suspended flow run. As in Prefect, an
// error status is not an expected failure: the message is delivered again.
func resumeFlowRun(ctx context.Context, x *executor, inv *invocation) error {
	r, err := x.flowRunRequest(ctx, inv, "Resuming flow run", http.MethodPost, "/resume", nil)
	if err != nil {
		return err
	}
	if r.Status >= 400 {
		return fmt.Errorf("resume flow run: status %d: %s", r.Status, r.Body)
	}
	var res orchestrationResult
	if err := json.Unmarshal(r.Body, &res); err != nil {
		return fmt.Errorf("read resume result: %w", err)
	}
	if !res.accepted() {
		return failed("Failed to resume flow run: %s", res.reason())
	}
	return nil
}
