package orchestration_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	o "github.com/prefect-server/prefect-server/platform/orchestration"
)

// BenchmarkPolicyApply measures the policy machinery alone: matching 20
// rules by transition, their enter and exit hooks and 10 transforms, with
// hooks that do nothing (the rules' own cost is in modules/runs'
// BenchmarkFlowRuleChain). Compare commits with benchstat
// (docs/bench/README.md).
func BenchmarkPolicyApply(b *testing.B) {
	noop := func(context.Context, *o.Transition, o.Memo) error { return nil }
	var rules []o.Rule
	for i := range 20 {
		rules = append(rules, o.Rule{Name: fmt.Sprintf("rule-%02d", i), Order: i, From: o.All(), To: o.All(), Before: noop, After: noop})
	}
	var transforms []o.Transform
	for i := range 10 {
		transforms = append(transforms, o.Transform{Name: fmt.Sprintf("transform-%02d", i), Order: i,
			Before: func(context.Context, *o.Transition) error { return nil }})
	}
	policy := o.NewPolicy(rules, transforms)
	accept := func(context.Context, *o.Transition) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		t := o.NewTransition(o.FlowRun, nil, &o.Run{}, &o.State{ID: uuid.New(), Type: o.Pending}, &o.State{ID: uuid.New(), Type: o.Running})
		if err := policy.Apply(ctx, t, accept); err != nil {
			b.Fatal(err)
		}
	}
}
