package runs

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
	"github.com/prefect-server/prefect-server/platform/types"
)

// The hot paths of a set_state call without the database: the core rule
// chain and transforms a flow or task run goes through on each transition,
// and the JSON encoding of a flow run. Compare commits with benchstat (see
// docs/bench/README.md):
//
//	go test ./modules/runs -run '^$' -bench . -benchmem -count 6 > new.txt

// BenchmarkFlowRuleChain drives a flow run PENDING -> RUNNING -> COMPLETED
// through the core flow policy (rules and transforms), as set_state does.
func BenchmarkFlowRuleChain(b *testing.B) {
	policy := o.NewPolicy(coreFlowRules(), flowTransforms())
	benchTransitions(b, o.FlowRun, policy, nil)
}

// BenchmarkTaskRuleChain does the same for a task run in a running flow run.
func BenchmarkTaskRuleChain(b *testing.B) {
	policy := o.NewPolicy(coreTaskRules(), taskTransforms())
	parent := &o.ParentFlowRun{State: &o.State{ID: uuid.New(), Type: o.Running, Name: "Running", Timestamp: types.Now()}, RunCount: 1}
	benchTransitions(b, o.TaskRun, policy, parent)
}

func benchTransitions(b *testing.B, kind o.Kind, policy *o.Policy, parent *o.ParentFlowRun) {
	ctx := context.Background()
	accept := func(context.Context, *o.Transition) error { return nil }
	steps := [][2]o.StateType{{o.None, o.Pending}, {o.Pending, o.Running}, {o.Running, o.Completed}}
	b.ReportAllocs()
	for b.Loop() {
		run := &o.Run{}
		var current *o.State
		for _, s := range steps {
			proposed := &o.State{ID: uuid.New(), Type: s[1], Name: s[1].DefaultName(), Timestamp: types.Now()}
			t := o.NewTransition(kind, nil, run, current, proposed)
			t.FlowRun = func(context.Context) (*o.ParentFlowRun, error) { return parent, nil }
			if err := policy.Apply(ctx, t, accept); err != nil || t.Status != o.Accept {
				b.Fatalf("%s -> %s: %v %s %s", s[0], s[1], err, t.Status, t.Details.Reason)
			}
			current = t.Proposed
		}
	}
}

// BenchmarkFlowRunJSON encodes one completed flow run as the API returns it
// (the encoder WriteJSON uses), e.g. once per row of /flow_runs/filter.
func BenchmarkFlowRunJSON(b *testing.B) {
	run := benchFlowRun()
	enc := json.NewEncoder(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := enc.Encode(run); err != nil {
			b.Fatal(err)
		}
	}
}

func benchFlowRun() *FlowRun {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	start, end := types.From(now.Add(-time.Minute)), types.From(now)
	completed := o.Completed
	name, queue := "Completed", "default"
	run := &FlowRun{FlowID: uuid.New(), WorkQueueName: &queue,
		Parameters: map[string]any{"x": 1, "names": []any{"a", "b"}}, Context: map[string]any{},
		JobVariables: map[string]any{}, CreatedBy: rawJSON(`{"id": null, "type": "DEPLOYMENT", "display_value": "nightly"}`)}
	stateID := uuid.New()
	run.runColumns = runColumns{ID: uuid.New(), Created: start, Updated: end, Name: "bench-flow-run",
		StateID: &stateID, StateType: &completed, StateName: &name, RunCount: 1, ExpectedStartTime: &start,
		StartTime: &start, EndTime: &end, TotalRunTime: 60, Tags: []string{"nightly", "etl"}, Labels: map[string]any{}}
	run.State = &o.State{ID: stateID, Type: o.Completed, Name: name, Timestamp: end,
		Data: json.RawMessage(`{"type":"reference","storage_key":"k"}`)}
	run.estimate(now)
	return run
}
