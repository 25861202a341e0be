package actions

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

// target is the kind of object a source-based action works on.
type target struct {
	kind string // resource kind, e.g. "deployment" for prefect.deployment.<id>
	noun string // the id field's prefix, e.g. "work_queue" for work_queue_id
	// selected is the action's own id field.
	selected func(s *actionSpec) *uuid.UUID
}

var (
	deploymentTarget = target{"deployment", "deployment", func(s *actionSpec) *uuid.UUID { return s.DeploymentID }}
	workQueueTarget  = target{"work-queue", "work_queue", func(s *actionSpec) *uuid.UUID { return s.WorkQueueID }}
	workPoolTarget   = target{"work-pool", "work_pool", func(s *actionSpec) *uuid.UUID { return s.WorkPoolID }}
	automationTarget = target{"automation", "automation", func(s *actionSpec) *uuid.UUID { return s.AutomationID }}
)

// id is the object the action works on: the selected one, or the triggering
// event's first resource of the kind.
func (tg target) id(inv *invocation) (uuid.UUID, error) {
	return inv.selectedOrInferred(tg.selected(&inv.spec), "prefect."+tg.kind, tg.noun)
}

// command is a request an action sends about its target.
type command func(id uuid.UUID) (method, path string, body any)

// targetCommand is Prefect's *CommandAction: find the target, name it in the
// action's events, send the command and fail on an error status.
func targetCommand(description string, tg target, cmd command) act {
	return func(ctx context.Context, x *executor, inv *invocation) error {
		id, err := tg.id(inv)
		if err != nil {
			return err
		}
		inv.target(tg.kind, id, "")
		x.log.Info(description, zap.Stringer(tg.noun+"_id", id), zap.Stringer("automation", inv.automation.ID))
		method, path, body := cmd(id)
		r, err := x.api.do(ctx, inv.headers(), method, path, body)
		if err != nil {
			return err
		}
		return inv.commandResult(r)
	}
}

func post(format string) command {
	return func(id uuid.UUID) (string, string, any) { return http.MethodPost, sprintfID(format, id), nil }
}

func patch(format string, body any) command {
	return func(id uuid.UUID) (string, string, any) { return http.MethodPatch, sprintfID(format, id), body }
}

// sprintfID puts id in a path format with one %s.
func sprintfID(format string, id uuid.UUID) string { return fmt.Sprintf(format, id) }
