package runs

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

func st(typ o.StateType, name string) *o.State {
	return &o.State{ID: uuid.New(), Type: typ, Name: name, Timestamp: types.Now()}
}

func intp(n int) *int { return &n }

// TestRules runs each core rule alone on one transition and checks the
// outcome: status, the proposed state's type and name, and the reason.
func TestRules(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	future := types.From(now.Add(10 * time.Second))
	scheduledFuture := st(o.Scheduled, "Scheduled")
	scheduledFuture.StateDetails.ScheduledTime = &future
	completedPersisted := st(o.Completed, "Completed")
	completedPersisted.Data = json.RawMessage(`{"type":"reference","storage_key":"k"}`)
	transition := uuid.New()
	withTransition := func(s *o.State) *o.State { s.StateDetails.TransitionID = &transition; return s }
	runningParent := &o.ParentFlowRun{State: st(o.Running, "Running"), RunCount: 1}
	completedParent := &o.ParentFlowRun{State: st(o.Completed, "Completed"), RunCount: 1}
	expiredPause := st(o.Paused, "Paused")
	expiredPause.StateDetails.PauseTimeout = types.Ptr(now.Add(-time.Second))
	suspended := st(o.Paused, "Suspended")
	suspended.StateDetails.PauseReschedule = true

	tests := []struct {
		name       string
		give       o.Rule
		run        o.Run
		parent     *o.ParentFlowRun
		initial    *o.State
		proposed   *o.State
		wantStatus o.Status
		wantName   string // of the proposed state after the rule; "" if nullified
		wantReason string
	}{
		{"pending to pending aborts", preventPendingTransitions(1), o.Run{}, nil, st(o.Pending, "Pending"), st(o.Pending, "Pending"),
			o.Abort, "", "This run is in a PENDING state and cannot transition to a PENDING state."},
		{"pending sub-state is allowed", preventPendingTransitions(1), o.Run{}, nil, st(o.Pending, "Pending"), st(o.Pending, "Submitting"),
			o.Accept, "Submitting", ""},
		{"running to pending aborts", preventPendingTransitions(1), o.Run{}, nil, st(o.Running, "Running"), st(o.Pending, "Pending"),
			o.Abort, "", "This run is in a RUNNING state and cannot transition to a PENDING state."},
		{"too early waits", waitForScheduledTime(1), o.Run{}, nil, scheduledFuture, st(o.Running, "Running"),
			o.Wait, "", "Scheduled time is in the future"},
		{"flow retry", retryFailedFlows(), o.Run{RunCount: 1, FlowPolicy: o.FlowRunPolicy{Retries: intp(1)}}, nil,
			st(o.Running, "Running"), st(o.Failed, "Failed"), o.Reject, "AwaitingRetry", "Retrying"},
		{"flow retries exhausted", retryFailedFlows(), o.Run{RunCount: 2, FlowPolicy: o.FlowRunPolicy{Retries: intp(1)}}, nil,
			st(o.Running, "Running"), st(o.Failed, "Failed"), o.Accept, "Failed", ""},
		{"task retry", retryFailedTasks(), o.Run{RunCount: 1, TaskPolicy: o.TaskRunPolicy{Retries: intp(2)}}, nil,
			st(o.Running, "Running"), st(o.Failed, "Failed"), o.Reject, "AwaitingRetry", "Retrying"},
		{"rerun after retry is Retrying", renameReruns(), o.Run{RunCount: 1}, nil,
			st(o.Scheduled, "AwaitingRetry"), st(o.Running, "Running"), o.Accept, "Retrying", ""},
		{"rerun is Rerunning", renameReruns(), o.Run{RunCount: 1}, nil,
			st(o.Completed, "Completed"), st(o.Running, "Running"), o.Accept, "Rerunning", ""},
		{"completed with a result stays", handleFlowTerminalStateTransitions(), o.Run{}, nil,
			completedPersisted, st(o.Running, "Running"), o.Reject, "", "Run is already COMPLETED."},
		{"terminal cannot crash", handleFlowTerminalStateTransitions(), o.Run{}, nil,
			st(o.Failed, "Failed"), st(o.Crashed, "Crashed"), o.Abort, "", "Run is already in terminal state FAILED."},
		{"duplicate transition", preventDuplicateTransitions(), o.Run{}, nil,
			withTransition(st(o.Running, "Running")), withTransition(st(o.Completed, "Completed")), o.Reject, "", "This run has already made this state transition."},
		{"cancelling only to cancelled", enforceCancellingToCancelled(), o.Run{}, nil,
			st(o.Cancelling, "Cancelling"), st(o.Completed, "Completed"), o.Reject, "", "Cannot transition flows that are cancelling to a state other than Cancelled."},
		{"scheduled cancels without infra", bypassCancellingFlowRunsWithNoInfra(), o.Run{}, nil,
			st(o.Scheduled, "Scheduled"), st(o.Cancelling, "Cancelling"), o.Reject, "Cancelled", "Scheduled flow run has no infrastructure to terminate."},
		{"task in a stopped flow", preventRunningTasksFromStoppedFlows(), o.Run{}, completedParent,
			st(o.Pending, "Pending"), st(o.Running, "Running"), o.Abort, "", "The enclosing flow must be running to begin task execution."},
		{"task in a running flow", preventRunningTasksFromStoppedFlows(), o.Run{}, runningParent,
			st(o.Pending, "Pending"), st(o.Running, "Running"), o.Accept, "Running", ""},
		{"pause needs a running flow", handlePausingFlows(), o.Run{}, nil,
			st(o.Pending, "Pending"), st(o.Paused, "Paused"), o.Reject, "", "Cannot pause flows that are not currently running."},
		{"paused resumes to running", handleResumingPausedFlows(), o.Run{}, nil,
			st(o.Paused, "Paused"), st(o.Running, "Running"), o.Accept, "Running", ""},
		{"paused cannot go pending", handleResumingPausedFlows(), o.Run{}, nil,
			st(o.Paused, "Paused"), st(o.Pending, "Pending"), o.Reject, "", "This run cannot transition to the PENDING state from the PAUSED state."},
		{"expired pause fails", handleResumingPausedFlows(), o.Run{}, nil,
			expiredPause, st(o.Running, "Running"), o.Reject, "Failed", "The flow run pause has timed out and can no longer resume."},
		{"expired pause may still be cancelled", handleResumingPausedFlows(), o.Run{}, nil,
			expiredPause, st(o.Cancelling, "Cancelling"), o.Accept, "Cancelling", ""},
		{"suspended needs a deployment to reschedule", handleResumingPausedFlows(), o.Run{}, nil,
			suspended, st(o.Scheduled, "Resuming"), o.Reject, "", "Cannot reschedule a resuming flow run without a deployment."},
		{"only scheduled runs turn late", ensureOnlyScheduledFlowsMarkedLate(), o.Run{}, nil,
			st(o.Running, "Running"), st(o.Scheduled, "Late"), o.Reject, "", "Only scheduled flows can be marked late."},
		{"late once", ensureOnlyScheduledFlowsMarkedLate(), o.Run{}, nil,
			st(o.Scheduled, "Late"), st(o.Scheduled, "Late"), o.Reject, "", "This flow run is already marked late."},
		{"scheduled turns late", ensureOnlyScheduledFlowsMarkedLate(), o.Run{}, nil,
			st(o.Scheduled, "Scheduled"), st(o.Scheduled, "Late"), o.Accept, "Late", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := tt.run
			x := o.NewTransition(o.FlowRun, nil, &run, tt.initial, tt.proposed)
			x.FlowRun = func(context.Context) (*o.ParentFlowRun, error) { return tt.parent, nil }
			p := o.NewPolicy([]o.Rule{tt.give}, nil)
			err := p.Apply(context.Background(), x, func(context.Context, *o.Transition) error { return nil })
			gotName := ""
			if x.Proposed != nil {
				gotName = x.Proposed.Name
			}
			if err != nil || x.Err != nil || x.Status != tt.wantStatus || gotName != tt.wantName || x.Details.Reason != tt.wantReason {
				t.Fatalf("got %v/%v %s %q %q, want %s %q %q", err, x.Err, x.Status, gotName, x.Details.Reason, tt.wantStatus, tt.wantName, tt.wantReason)
			}
		})
	}
}

// TestTransforms checks the run bookkeeping of the universal transforms.
func TestTransforms(t *testing.T) {
	pending, running, done := st(o.Pending, "Pending"), st(o.Running, "Running"), st(o.Completed, "Completed")
	running.Timestamp = types.From(pending.Timestamp.Add(time.Second))
	done.Timestamp = types.From(running.Timestamp.Add(2 * time.Second))
	tests := []struct {
		name     string
		initial  *o.State
		proposed *o.State
		give     o.Run
		want     func(r o.Run) bool
	}{
		{"first state sets the expected start", nil, pending, o.Run{},
			func(r o.Run) bool {
				return r.ExpectedStartTime != nil && r.ExpectedStartTime.Equal(pending.Timestamp.Time)
			}},
		{"running sets start and counts", pending, running, o.Run{},
			func(r o.Run) bool { return r.StartTime != nil && r.RunCount == 1 }},
		{"completed sets end and run time", running, done, o.Run{StartTime: &running.Timestamp, RunCount: 1},
			func(r o.Run) bool { return r.EndTime != nil && r.TotalRunTime == 2 && r.RunCount == 1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := tt.give
			x := o.NewTransition(o.FlowRun, nil, &run, tt.initial, tt.proposed.Copy())
			p := o.NewPolicy(nil, flowTransforms())
			if err := p.Apply(context.Background(), x, func(context.Context, *o.Transition) error { return nil }); err != nil || !tt.want(run) {
				t.Fatalf("err %v, run %+v", err, run)
			}
		})
	}
}

func TestValidateRunInput(t *testing.T) {
	schema := `{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"array","items":{"type":"string"}}},"required":["a"]}`
	tests := []struct {
		give map[string]any
		want string
	}{
		{map[string]any{"a": 1, "b": []any{"x"}}, ""},
		{map[string]any{"a": "x"}, "Reason: Validation failed for field 'a'. Failure reason: 'x' is not of type 'integer'"},
		{map[string]any{"a": 1, "b": []any{1}}, "Reason: Validation failed for field 'b[0]'. Failure reason: 1 is not of type 'string'"},
		{map[string]any{}, "Reason: Validation failed. Failure reason: 'a' is a required property"},
	}
	for _, tt := range tests {
		if got := validateRunInput(schema, tt.give); got != tt.want {
			t.Errorf("validateRunInput(%v) = %q, want %q", tt.give, got, tt.want)
		}
	}
	if got := validateRunInput("{not json", map[string]any{}); got != "Run input schema is not valid JSON." {
		t.Errorf("bad schema: %q", got)
	}
}
