package runs

import (
	"context"
	"fmt"
	"math"
	"time"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The core rules of Prefect's CoreFlowPolicy and CoreTaskPolicy
// (prefect/server/orchestration/core_policy.py) that a client run needs.
// Concurrency rules come from the modules that own the limits, through
// orchestration.AsFlowRule / AsTaskRule.

// clock is the server's clock; tests replace it.
var clock = func() time.Time { return time.Now() }

func coreFlowRules() []o.Rule {
	return []o.Rule{
		preventDuplicateTransitions(),
		handleFlowTerminalStateTransitions(),
		enforceCancellingToCancelled(),
		bypassCancellingFlowRunsWithNoInfra(),
		preventPendingTransitions(o.OrderPreventPendingTransitions),
		ensureOnlyScheduledFlowsMarkedLate(),
		handlePausingFlows(),
		handleResumingPausedFlows(),
		copyScheduledTime(o.OrderCopyScheduledTime),
		waitForScheduledTime(o.OrderWaitForScheduledTime),
		retryFailedFlows(),
	}
}

func nothing(context.Context, *o.Transition, o.Memo) error { return nil }

// preventDuplicateTransitions rejects a transition whose transition_id is
// the current state's: the client retried a request that succeeded.
func preventDuplicateTransitions() o.Rule {
	return o.Rule{Name: "PreventDuplicateTransitions", Order: o.OrderPreventDuplicateTransitions, From: o.All(), To: o.All(),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			a, b := t.Initial.StateDetails.TransitionID, t.Proposed.StateDetails.TransitionID
			if a != nil && b != nil && *a == *b {
				return t.Reject(nil, "This run has already made this state transition.")
			}
			return nil
		}}
}

// handleFlowTerminalStateTransitions keeps runs in terminal states unless a
// rerun is proposed, and resets pause metadata when a run leaves one.
func handleFlowTerminalStateTransitions() o.Rule {
	return o.Rule{Name: "HandleFlowTerminalStateTransitions", Order: o.OrderHandleFlowTerminalStateTransitions,
		From: o.Terminal(), To: o.All(),
		Before: func(_ context.Context, t *o.Transition, memo o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			memo["policy"] = t.Run.FlowPolicy
			in, pr := t.Initial, t.Proposed
			switch {
			case pr.Type == o.Cancelling || pr.Type == o.Paused || pr.Type == o.Crashed:
				t.Abort(fmt.Sprintf("Run is already in terminal state %s.", in.Type))
			case in.Type == o.Completed && !pr.Type.Final() && o.HasPersistedResult(in.Data):
				return t.Reject(nil, "Run is already COMPLETED.")
			case in.Type == o.Completed && pr.Type == o.Completed && o.HasPersistedResult(in.Data) && !o.HasPersistedResult(pr.Data):
				return t.Reject(nil, "Cannot overwrite a COMPLETED state that carries persisted result data with one that does not.")
			case pr.Type == o.Scheduled && t.Run.DeploymentID == nil:
				t.Abort("Cannot reschedule a run without an associated deployment.")
			case !pr.Type.Final():
				p := &t.Run.FlowPolicy
				p.Resuming, p.PauseKeys, p.RetryType = false, []string{}, nil
				if pr.Type == o.Scheduled {
					s := "reschedule"
					p.RetryType = &s
				}
			}
			return nil
		},
		Cleanup: func(_ context.Context, t *o.Transition, memo o.Memo) error {
			if p, ok := memo["policy"].(o.FlowRunPolicy); ok {
				t.Run.FlowPolicy = p
			}
			return nil
		}}
}

// enforceCancellingToCancelled lets a cancelling run only become cancelled.
func enforceCancellingToCancelled() o.Rule {
	return o.Rule{Name: "EnforceCancellingToCancelledTransition", Order: o.OrderEnforceCancellingToCancelled,
		From: o.Of(o.Cancelling), To: o.All().Except(o.Cancelled),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			return t.Reject(nil, "Cannot transition flows that are cancelling to a state other than Cancelled.")
		}}
}

// bypassCancellingFlowRunsWithNoInfra cancels at once a run that has no
// infrastructure to tear down.
func bypassCancellingFlowRunsWithNoInfra() o.Rule {
	return o.Rule{Name: "BypassCancellingFlowRunsWithNoInfra", Order: o.OrderBypassCancellingFlowRunsWithNoInfra, Forced: true,
		From: o.Of(o.Scheduled, o.Paused), To: o.Of(o.Cancelling),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			cancelled := &o.State{ID: newStateID(), Type: o.Cancelled, Name: "Cancelled", Timestamp: types.From(clock())}
			if (t.Initial.Type == o.Scheduled && t.Run.InfrastructurePID == nil) || t.Initial.Name == "Resuming" {
				return t.Reject(cancelled, "Scheduled flow run has no infrastructure to terminate.")
			}
			if t.Initial.Type == o.Paused && t.Initial.StateDetails.PauseReschedule {
				return t.Reject(cancelled, "Suspended flow run has no infrastructure to terminate.")
			}
			return nil
		}}
}

// preventPendingTransitions stops a second submission of a run that is
// already pending, running or cancelled.
func preventPendingTransitions(order int) o.Rule {
	return o.Rule{Name: "PreventPendingTransitions", Order: order,
		From: o.Of(o.Pending, o.Cancelling, o.Running, o.Cancelled), To: o.Of(o.Pending),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			in, pr := t.Initial, t.Proposed
			if in.Type == o.Pending && in.Name != pr.Name && pr.Name != "Pending" {
				pr.StateDetails.ScheduledTime = in.StateDetails.ScheduledTime
				pr.StateDetails.DeploymentConcurrencyLeaseID = in.StateDetails.DeploymentConcurrencyLeaseID
				return nil
			}
			t.Abort(fmt.Sprintf("This run is in a %s state and cannot transition to a PENDING state.", in.Type))
			return nil
		}}
}

// handlePausingFlows governs entering a Paused (or Suspended) state.
func handlePausingFlows() o.Rule {
	return o.Rule{Name: "HandlePausingFlows", Order: o.OrderHandlePausingFlows, From: o.All(), To: o.Of(o.Paused),
		Before: func(_ context.Context, t *o.Transition, memo o.Memo) error {
			verb := "pause"
			if t.Proposed.Name == "Suspended" {
				verb = "suspend"
			}
			if t.Initial == nil {
				t.Abort(fmt.Sprintf("Cannot %s flows with no state.", verb))
				return nil
			}
			if t.Initial.Type != o.Running {
				return t.Reject(nil, fmt.Sprintf("Cannot %s flows that are not currently running.", verb))
			}
			key := newStateID().String()
			if k := t.Proposed.StateDetails.PauseKey; k != nil {
				key = *k
			}
			memo["key"] = key
			for _, k := range t.Run.FlowPolicy.PauseKeys {
				if k == key {
					return t.Reject(nil, fmt.Sprintf("This %s has already fired.", verb))
				}
			}
			if t.Proposed.StateDetails.PauseReschedule {
				if t.Run.ParentTaskRunID != nil {
					t.Abort(fmt.Sprintf("Cannot %s subflows.", verb))
				} else if t.Run.DeploymentID == nil {
					t.Abort(fmt.Sprintf("Cannot %s flows without a deployment.", verb))
				}
			}
			return nil
		},
		After: func(_ context.Context, t *o.Transition, memo o.Memo) error {
			if key, ok := memo["key"].(string); ok {
				t.Run.FlowPolicy.PauseKeys = append(t.Run.FlowPolicy.PauseKeys, key)
			}
			return nil
		}}
}

// copyScheduledTime carries the scheduled time from Scheduled to Pending.
func copyScheduledTime(order int) o.Rule {
	return o.Rule{Name: "CopyScheduledTime", Order: order, From: o.Of(o.Scheduled), To: o.Of(o.Pending),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial != nil && t.Proposed != nil && t.Proposed.StateDetails.ScheduledTime == nil {
				t.Proposed.StateDetails.ScheduledTime = t.Initial.StateDetails.ScheduledTime
			}
			return nil
		}}
}

// waitForScheduledTime tells the client to wait when it would start a run
// before its scheduled time.
func waitForScheduledTime(order int) o.Rule {
	return o.Rule{Name: "WaitForScheduledTime", Order: order, From: o.Of(o.Scheduled, o.Pending), To: o.Of(o.Running),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil || t.Initial.StateDetails.ScheduledTime == nil {
				return nil
			}
			delay := t.Initial.StateDetails.ScheduledTime.Sub(clock())
			secs := int(math.Floor(delay.Seconds()))
			us := delay % time.Second
			if us < 0 {
				us += time.Second
			}
			secs += int(math.RoundToEven(float64(us.Microseconds()) / 1e6))
			if secs > 0 {
				t.Wait(secs, "Scheduled time is in the future")
			}
			return nil
		}}
}

// retryFailedFlows turns a failure into AwaitingRetry while retries remain.
func retryFailedFlows() o.Rule {
	return o.Rule{Name: "RetryFailedFlows", Order: o.OrderRetryFailedFlows, From: o.Of(o.Running), To: o.Of(o.Failed),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			if t.Initial == nil || t.Proposed == nil {
				return nil
			}
			p := &t.Run.FlowPolicy
			if p.Retries == nil || t.Run.RunCount > *p.Retries {
				p.RetryType = nil
				return nil
			}
			delay := 0
			if p.RetryDelay != nil {
				delay = *p.RetryDelay
			}
			inProcess := "in_process"
			p.Resuming, p.PauseKeys, p.RetryType = false, []string{}, &inProcess
			retry := awaitingRetry(clock().Add(time.Duration(delay)*time.Second), t.Proposed)
			retry.StateDetails.DeploymentConcurrencyLeaseID = t.Initial.StateDetails.DeploymentConcurrencyLeaseID
			return t.Reject(retry, "Retrying")
		}}
}

// awaitingRetry is Prefect's AwaitingRetry state, keeping the failure's
// message and data.
func awaitingRetry(at time.Time, failed *o.State) *o.State {
	when := types.From(at)
	return &o.State{ID: newStateID(), Type: o.Scheduled, Name: "AwaitingRetry", Timestamp: types.From(clock()),
		Message: failed.Message, Data: failed.Data, StateDetails: o.StateDetails{ScheduledTime: &when}}
}

// preventResultDataLoss is the one terminal-state check of forced
// transitions (MinimalFlowPolicy).
func preventResultDataLoss() o.Rule {
	return o.Rule{Name: "PreventResultDataLoss", Order: o.OrderHandleFlowTerminalStateTransitions, Forced: true,
		From: o.Terminal(), To: o.Terminal(),
		Before: func(_ context.Context, t *o.Transition, _ o.Memo) error {
			in, pr := t.Initial, t.Proposed
			if in != nil && pr != nil && in.Type == o.Completed && pr.Type == o.Completed &&
				o.HasPersistedResult(in.Data) && !o.HasPersistedResult(pr.Data) {
				return t.Reject(nil, "Cannot overwrite a COMPLETED state that carries persisted result data with one that does not.")
			}
			return nil
		}}
}
