package runs

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// handleResumingPausedFlows governs leaving a Paused state
// (HandleResumingPausedFlows): only to Running, Scheduled, Cancelling or a
// final state, never after the pause timed out, and a reschedule-style
// pause only with a deployment.
func handleResumingPausedFlows() o.Rule {
	return o.Rule{Name: "HandleResumingPausedFlows", Order: o.OrderHandleResumingPausedFlows, From: o.Of(o.Paused), To: o.All(),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			in, pr := t.Initial, t.Proposed
			if !(pr.Type == o.Running || pr.Type == o.Scheduled || pr.Type == o.Cancelling || pr.Type.Final()) {
				return t.Reject(nil, fmt.Sprintf("This run cannot transition to the %s state from the %s state.", pr.Type, in.Type))
			}
			verb := "pause"
			if pr.Name == "Suspended" {
				verb = "suspend"
			}
			display := strings.ToLower(pr.Name)
			if display == "" {
				display = strings.ToLower(string(pr.Type))
			}
			if in.StateDetails.PauseReschedule && t.Run.DeploymentID == nil {
				return t.Reject(nil, fmt.Sprintf("Cannot reschedule a %s flow run without a deployment.", display))
			}
			if pr.Type == o.Cancelling {
				return nil // cancellation must reach the worker even after the deadline
			}
			if to := in.StateDetails.PauseTimeout; to != nil && to.Before(clock()) {
				msg := fmt.Sprintf("The flow was %s and never resumed.", display)
				failed := &o.State{ID: newStateID(), Type: o.Failed, Name: "Failed", Timestamp: types.From(clock()), Message: &msg}
				return t.Reject(failed, fmt.Sprintf("The flow run %s has timed out and can no longer resume.", verb))
			}
			return nil
		},
		After: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			p := t.Run.FlowPolicy
			if t.Initial != nil && !t.Initial.StateDetails.PauseReschedule && t.Validated != nil &&
				t.Validated.Type == o.Scheduled && apiVersionAtLeast(t.Parameters["api-version"], 0, 8, 4) {
				// A blocking pause left for a new attempt fires its pauses again.
				reschedule := "reschedule"
				p.Resuming, p.PauseKeys, p.RetryType = false, []string{}, &reschedule
			} else {
				p.Resuming = true
			}
			t.Run.FlowPolicy = p
			return nil
		}}
}

// ensureOnlyScheduledFlowsMarkedLate lets only a scheduled run that is not
// late yet become Late (EnsureOnlyScheduledFlowsMarkedLate).
func ensureOnlyScheduledFlowsMarkedLate() o.Rule {
	return o.Rule{Name: "EnsureOnlyScheduledFlowsMarkedLate", Order: o.OrderEnsureOnlyScheduledFlowsMarkedLate,
		From: o.All(), To: o.Of(o.Scheduled),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil || t.Proposed.Name != "Late" {
				return nil
			}
			if t.Initial.Type != o.Scheduled {
				return t.Reject(nil, "Only scheduled flows can be marked late.")
			}
			if t.Initial.Name == "Late" {
				return t.Reject(nil, "This flow run is already marked late.")
			}
			return nil
		}}
}

// apiVersionAtLeast compares a client's X-Prefect-Api-Version ("0.8.4")
// with a version; an absent or unreadable one counts as current.
func apiVersionAtLeast(v any, want ...int) bool {
	s, ok := v.(string)
	if !ok || s == "" {
		return true
	}
	parts := strings.Split(s, ".")
	for i, w := range want {
		if i >= len(parts) {
			return false
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return true
		}
		if n != w {
			return n > w
		}
	}
	return true
}
