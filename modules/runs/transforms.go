package runs

import (
	"context"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
)

// The universal transforms of Prefect's GlobalFlowPolicy and
// GlobalTaskPolicy (global_policy.py). SetRunStateType, SetRunStateName and
// SetRunStateTimestamp are done by the writer, which copies the validated
// state onto the run; EnsureFlowRunStateTimestampIsUnique too, on both kinds.

func commonTransforms() []o.Transform {
	return []o.Transform{
		{Name: "SetStartTime", Order: 10, Before: setStartTime},
		{Name: "SetEndTime", Order: 20, Before: setEndTime},
		{Name: "IncrementRunTime", Order: 30, Before: incrementRunTime},
		{Name: "SetExpectedStartTime", Order: 40, Before: setExpectedStartTime},
		{Name: "SetNextScheduledStartTime", Order: 50, Before: setNextScheduledStartTime},
		{Name: "UpdateStateDetails", Order: 60, Before: updateStateDetails},
	}
}

func flowTransforms() []o.Transform {
	return append(commonTransforms(),
		o.Transform{Name: "UpdateSubflowStateDetails", Order: 110, Before: updateSubflowStateDetails},
		o.Transform{Name: "IncrementFlowRunCount", Order: 120, Before: incrementFlowRunCount},
		o.Transform{Name: "RemoveResumingIndicator", Order: 130, Before: removeResumingIndicator},
	)
}

func taskTransforms() []o.Transform {
	return append(commonTransforms(), o.Transform{Name: "IncrementTaskRunCount", Order: 110, Before: incrementTaskRunCount})
}

func setStartTime(_ context.Context, t *o.Transition) error {
	if t.Proposed != nil && t.Proposed.Type == o.Running && t.Run.StartTime == nil {
		ts := t.Proposed.Timestamp
		t.Run.StartTime = &ts
	}
	return nil
}

func setEndTime(_ context.Context, t *o.Transition) error {
	if t.Proposed == nil {
		return nil
	}
	if t.Initial != nil && t.Initial.Type.Final() && !t.Proposed.Type.Final() {
		t.Run.EndTime = nil
	}
	if t.Proposed.Type.Final() && t.Run.EndTime == nil {
		ts := t.Proposed.Timestamp
		if t.Run.StartTime == nil {
			t.Run.StartTime = &ts
		}
		t.Run.EndTime = &ts
	}
	return nil
}

func incrementRunTime(_ context.Context, t *o.Transition) error {
	if t.Proposed != nil && t.Initial != nil && t.Initial.Type == o.Running {
		t.Run.TotalRunTime += t.Proposed.Timestamp.Sub(t.Initial.Timestamp.Time).Seconds()
	}
	return nil
}

func setExpectedStartTime(_ context.Context, t *o.Transition) error {
	if t.Proposed == nil || t.Run.ExpectedStartTime != nil {
		return nil
	}
	if t.Proposed.Type == o.Scheduled {
		t.Run.ExpectedStartTime = t.Proposed.StateDetails.ScheduledTime
	} else {
		ts := t.Proposed.Timestamp
		t.Run.ExpectedStartTime = &ts
	}
	return nil
}

func setNextScheduledStartTime(_ context.Context, t *o.Transition) error {
	if t.Proposed == nil {
		return nil
	}
	if t.Initial != nil && t.Initial.Type == o.Scheduled {
		t.Run.NextScheduledStartTime = nil
	}
	if t.Proposed.Type == o.Scheduled {
		t.Run.NextScheduledStartTime = t.Proposed.StateDetails.ScheduledTime
	}
	return nil
}

func updateStateDetails(_ context.Context, t *o.Transition) error {
	if t.Proposed == nil {
		return nil
	}
	id := t.Run.ID
	if t.Kind == o.FlowRun {
		t.Proposed.StateDetails.FlowRunID = &id
		return nil
	}
	t.Proposed.StateDetails.FlowRunID = t.Run.FlowRunID
	t.Proposed.StateDetails.TaskRunID = &id
	return nil
}

func updateSubflowStateDetails(_ context.Context, t *o.Transition) error {
	if t.Proposed != nil && t.Run.ParentTaskRunID != nil {
		id := *t.Run.ParentTaskRunID
		t.Proposed.StateDetails.TaskRunID = &id
	}
	return nil
}

func incrementFlowRunCount(_ context.Context, t *o.Transition) error {
	if t.Proposed != nil && t.Proposed.Type == o.Running && !t.Run.FlowPolicy.Resuming {
		t.Run.RunCount++
	}
	return nil
}

func removeResumingIndicator(_ context.Context, t *o.Transition) error {
	if t.Proposed != nil && (t.Proposed.Type == o.Running || t.Proposed.Type.Final()) {
		t.Run.FlowPolicy.Resuming = false
	}
	return nil
}

func incrementTaskRunCount(_ context.Context, t *o.Transition) error {
	if t.Proposed != nil && t.Proposed.Type == o.Running {
		t.Run.RunCount++
	}
	return nil
}
