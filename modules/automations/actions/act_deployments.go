package actions

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/prefect-server/prefect-server/modules/events"
	"github.com/prefect-server/prefect-server/platform/types"
)

// runDeployment creates a flow run of the deployment, Scheduled now (or
// schedule_after from now), with the action's parameters rendered against
// the triggering event and its objects.
func runDeployment(ctx context.Context, x *executor, inv *invocation) error {
	id, err := deploymentTarget.id(inv)
	if err != nil {
		return err
	}
	inv.target("deployment", id, "")
	x.log.Info("Running deployment", zap.Stringer("deployment_id", id), zap.Stringer("automation", inv.automation.ID))

	after, err := parseTimedelta(inv.spec.ScheduleAfter)
	if err != nil {
		return failed("Unable to create flow run from deployment: %s", err)
	}
	params, err := x.renderParameters(ctx, inv)
	if err != nil {
		return err
	}
	scheduled := types.From(time.Now().Add(after))
	body := map[string]any{
		"state": map[string]any{
			"type": "SCHEDULED", "name": "Scheduled", "message": nil,
			"state_details": map[string]any{"scheduled_time": scheduled},
		},
		"parameters":      params,
		"idempotency_key": inv.idempotencyKey(),
		"job_variables":   jobVariables(inv.spec.JobVariables),
	}
	r, err := x.api.do(ctx, inv.headers(), http.MethodPost, "/deployments/"+id.String()+"/create_flow_run", body)
	if err != nil {
		return err
	}
	if r.Status < 300 {
		var run struct {
			ID   uuid.UUID `json:"id"`
			Name string    `json:"name"`
		}
		if err := json.Unmarshal(r.Body, &run); err != nil {
			return fmt.Errorf("read the created flow run: %w", err)
		}
		inv.related = append(inv.related, events.L(events.LabelID, events.ResourceID("flow-run", run.ID),
			events.LabelRole, "flow-run", events.LabelName, run.Name))
		x.log.Info("Started flow run", zap.Stringer("flow_run_id", run.ID), zap.String("flow_run_name", run.Name))
	}
	if r.Status == http.StatusConflict {
		inv.details["validation_error"] = r.detail()
	}
	return inv.commandResult(r)
}

// jobVariables passes the action's job variables on as they are (null for
// none, as Prefect sends None).
func jobVariables(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
